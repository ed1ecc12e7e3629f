"""Names that tie workflows, activities and clients together without imports."""

WORKFLOW_REFERRAL = "ReferralWorkflow"

ACTIVITY_MATCH = "match_partner"
ACTIVITY_EMAIL = "send_email"
ACTIVITY_PUBLISH = "publish_changes"  # read model + emails in one round trip

QUERY_DETAILS = "details"
SIGNAL_PARTNER_ACTION = "partner_action"
SIGNAL_OPERATOR_ACTION = "operator_action"
SIGNAL_PART_CHANGED = "part_changed"

UPDATES_PARTNER = ("accept", "decline", "contacted", "kickoff", "cpor_claimed", "complete")
UPDATES_OPERATOR = ("retry", "cancel")


def part_workflow_id(referral_id: str, number: int) -> str:
    """Workflow id of split part `number` (1-based) of a referral."""
    return f"{referral_id}.part{number}"
