"""Names that tie workflows, activities and clients together without imports."""

import re

WORKFLOW_REFERRAL = "ReferralWorkflow"

ACTIVITY_MATCH = "match_partner"
ACTIVITY_EMAIL = "send_email"
ACTIVITY_PUBLISH = "publish_changes"  # read model + emails in one round trip
ACTIVITY_DELIVER_WEBHOOK = "deliver_webhook"
ACTIVITY_WEBHOOK_GAVE_UP = "webhook_gave_up"
WORKFLOW_WEBHOOK = "WebhookDelivery"

QUERY_DETAILS = "details"
SIGNAL_PARTNER_ACTION = "partner_action"
SIGNAL_OPERATOR_ACTION = "operator_action"
SIGNAL_PART_CHANGED = "part_changed"

UPDATES_PARTNER = ("accept", "decline", "contacted", "kickoff", "cpor_claimed", "complete")
UPDATES_OPERATOR = ("retry", "cancel")


PART_SUFFIX = ".part"  # + the part's number: reserved, no referral id may end with it
_PART_ID = re.compile(r"\.part[0-9]+$")


def part_workflow_id(scope_id: str, number: int) -> str:
    """Workflow id of split part `number` (1-based) of a referral, or of a part that split."""
    return f"{scope_id}{PART_SUFFIX}{number}"


def ends_like_a_part(referral_id: str) -> bool:
    """Whether the id ends like a split part's (`.part` + digits), which referral ids may not."""
    return _PART_ID.search(referral_id) is not None
