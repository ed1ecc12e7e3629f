"""Data shapes shared by workflows, activities, the CLI and the portal.

Every shape that crosses Temporal lives in this one module, by design (hence its length).
Plain dataclasses only: they travel through Temporal's JSON payload converter, so every
field is a str, int, float, bool, date/datetime, list, dict or another dataclass.
No `from __future__ import annotations` here: the converter resolves each dataclass's type
hints on every payload, and string annotations are compiled anew each time (ForwardRef).
Classes are defined before use.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum, nonmember

from domain.locales import locale_for_country

# ---------------------------------------------------------------------------------------
# Vocabularies (the public contract's codes)
# ---------------------------------------------------------------------------------------

WORKLOADS: tuple[str, ...] = (
    "teams",
    "exchange",
    "sharepoint",
    "onedrive",
    "intune",
    "entra_id",
    "defender",
    "purview",
    "copilot",
    "windows",
)
SEGMENTS: tuple[str, ...] = ("commercial", "education", "government", "nonprofit")
REFERRAL_TYPES: tuple[str, ...] = ("benefit", "standard")


class Status(StrEnum):
    """Referral status (top-level `status` of `referral show --json`)."""

    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"
    ESCALATED = "escalated"
    CANCELLED = "cancelled"
    SPLIT = "split"

    ALL = nonmember(("pending", "active", "completed", "escalated", "cancelled", "split"))
    CLOSED = nonmember(("completed", "cancelled"))


class Outcome(StrEnum):
    """Outcome of one assignment attempt."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"  # referral cancelled by operations while assigned

    OPEN = nonmember(("pending", "accepted"))
    TAKEN = nonmember(("accepted", "completed"))  # accepted, whether completed since or not
    DECIDED = nonmember(("accepted", "completed", "declined", "expired"))  # what rates count
    ANSWERED = nonmember(("accepted", "completed", "declined"))  # the partner answered
    ALL = nonmember(("pending", "accepted", "declined", "expired", "completed", "withdrawn"))


class Reason(StrEnum):
    """Decline reason codes."""

    WORKING_WITH_OTHER_PARTNER = "customer_working_with_other_partner"
    CUSTOMER_UNRESPONSIVE = "customer_unresponsive"
    LEGAL_OR_POLITICAL = "legal_or_political"
    CUSTOMER_TYPE_NOT_SUPPORTED = "customer_type_not_supported"
    LANGUAGE_NOT_SUPPORTED = "language_not_supported"
    PARTNER_AT_CAPACITY = "partner_at_capacity"
    PREFERS_FASTTRACK_CENTER = "customer_prefers_fasttrack_center"
    ACCOUNT_TEAM_DECLINES_PARTNER = "account_team_declines_partner"
    OTHER = "other"

    ALL = nonmember(
        (
            "customer_working_with_other_partner",
            "customer_unresponsive",
            "legal_or_political",
            "customer_type_not_supported",
            "language_not_supported",
            "partner_at_capacity",
            "customer_prefers_fasttrack_center",
            "account_team_declines_partner",
            "other",
        )
    )


class Action(StrEnum):
    """What a partner or an operator does to a referral (update names, signal payloads)."""

    ACCEPT = "accept"
    DECLINE = "decline"
    CONTACTED = "contacted"
    KICKOFF = "kickoff"
    CPOR_CLAIMED = "cpor_claimed"
    COMPLETE = "complete"
    ACCOUNT_TEAM_CONTACTED = "account_team_contacted"
    RETRY = "retry"
    CANCEL = "cancel"

    PARTNER = nonmember(
        (
            "accept",
            "decline",
            "contacted",
            "kickoff",
            "cpor_claimed",
            "complete",
            "account_team_contacted",
        )
    )
    OPERATOR = nonmember(("retry", "cancel"))


# ---------------------------------------------------------------------------------------
# Directory
# ---------------------------------------------------------------------------------------


@dataclass
class PartnerProfile:
    mpn_id: str
    name: str
    referral_contact: str
    referral_ready: bool = True
    benefit_referrals: bool = False
    fasttrack_ready: bool = False
    workloads: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    min_seats: int = 0
    max_seats: int | None = None
    home_country: str = ""
    countries: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    paused_until: date | None = None
    max_open_referrals: int | None = None
    portal_users: list[str] = field(default_factory=list)  # who else may sign in to the portal
    locale: str = ""  # partner-owned; empty: the home country's language (domain.locales)

    def countries_served(self) -> set[str]:
        return {self.home_country, *self.countries}

    @property
    def effective_locale(self) -> str:
        return self.locale or locale_for_country(self.home_country)


@dataclass
class TrackRecord:
    """How a partner's offers ended over the ranking window (`domain.track_record`)."""

    offers: int = 0  # offers made (assignments), whatever became of them
    accepted: int = 0  # accepted in time
    expired: int = 0  # no answer within the SLA
    declined_partner: int = 0  # declined for a reason on the partner's side
    declined_customer: int = 0  # declined for a reason on the customer's side (neutral)
    declined_customer_type: int = 0  # of declined_partner: the profile's segments are wrong
    declined_language: int = 0  # of declined_partner: the profile's languages are wrong
    declined_after_accept: int = 0
    completed: int = 0  # delivered
    overdue: int = 0  # accepted long enough ago to judge, neither completed nor declined
    contacted_in_time: int = 0  # customer contacted within the contact window
    account_team_first: int = 0  # account team contacted before the kick-off
    vas_sold: int = 0


@dataclass
class PartnerLoad:
    """Directory bookkeeping used for fair ranking (kept by activities, not by the profile)."""

    mpn_id: str
    open_assignments: int = 0
    last_assigned_at: datetime | None = None
    capacity_declines: int = 0
    record: TrackRecord = field(default_factory=TrackRecord)


@dataclass
class PartnerContact:
    """What a workflow needs to know about the partner it assigned."""

    mpn_id: str
    name: str
    referral_contact: str
    timezone: str
    country: str
    capacity_declines_used: int = 0
    locale: str = "en"  # the language of the partner's emails


# ---------------------------------------------------------------------------------------
# Referral
# ---------------------------------------------------------------------------------------


@dataclass
class Customer:
    name: str
    country: str
    language: str
    segment: str
    seats: int
    tenant_id: str = ""
    contact_email: str = ""


@dataclass
class Requester:
    name: str = ""
    email: str = ""
    microsoft: bool = False


@dataclass
class Referral:
    referral_id: str
    type: str
    customer: Customer
    workloads: list[str]
    active_usage: dict[str, float] = field(default_factory=dict)
    notes: str = ""
    requested_by: Requester = field(default_factory=Requester)
    account_team: list[str] = field(default_factory=list)
    cpor_partner: str | None = None


# ---------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------


@dataclass
class MatchRequest:
    referral: Referral
    scope_id: str  # workflow id of the referral or part being staffed
    workloads: list[str]  # the workloads this scope needs staffed
    attempt: int  # assignment number within the scope (1, 2, ...): idempotency key
    excluded: list[str]  # partners that declined or let this scope expire
    as_of: datetime
    allow_split: bool = True


@dataclass
class ScoreCard:
    """A partner's standing as the match read it (recorded with the match result)."""

    mpn_id: str
    score: float  # estimated chance an offer ends accepted in time and delivered
    average: float  # the program's average the score is shrunk toward
    standing: str  # newcomer | ranked | needs_attention | rotation
    band: str  # e.g. "0.80-0.85"
    offers: int = 0
    accepted: int = 0
    expired: int = 0
    declined_partner: int = 0
    completed: int = 0
    judged: int = 0  # offers whose end counts in the score


@dataclass
class MatchExplanation:
    candidates: int = 0  # partners considered before any criterion
    removed: dict[str, int] = field(default_factory=dict)  # criterion -> partners it removed
    eligible: int = 0
    cpor: str = ""  # "chosen" when a CPOR claimant got it; why others did not is in `note`
    rank_keys: dict[str, str] = field(default_factory=dict)  # why the winner won
    note: str = ""
    missing: list[str] = field(default_factory=list)  # workloads no eligible partner covers
    score: ScoreCard | None = None  # the winner's track record (RANKING=track_record)
    tie_rule: str = ""  # what decided between the winner and the runner-up


@dataclass
class SlaTerms:
    """How SLA deadlines are counted, as configured on the worker that matched. Carried in the
    match result so the workflow computes deadlines itself, deterministically on replay."""

    business_days: int = 2
    override_seconds: float | None = None  # SLA_OVERRIDE: a fixed duration instead


@dataclass
class MatchResult:
    partner: PartnerContact | None
    explanation: MatchExplanation
    split: list[list[str]] = field(default_factory=list)  # non-empty: divide into these parts
    terms: SlaTerms = field(default_factory=SlaTerms)


# ---------------------------------------------------------------------------------------
# Live state (workflow query result, also the read model's snapshot)
# ---------------------------------------------------------------------------------------


@dataclass
class Assignment:
    seq: int
    partner: str
    partner_name: str
    outcome: Outcome
    assigned_at: datetime
    due_at: datetime | None = None  # set once the notification is delivered
    decided_at: datetime | None = None  # the last decision: accept, then decline or complete
    reason: str = ""
    note: str = ""
    explanation: MatchExplanation | None = None
    notified_at: datetime | None = None  # the SLA clock starts here
    accepted_at: datetime | None = None  # kept when a decline follows the accept


@dataclass
class HistoryEntry:
    at: datetime
    actor: str  # "system", "partner:<mpn>", "operator", "sla-timer"
    action: str
    detail: str = ""  # English (the CLI, the JSON API); people's notes and reasons as written
    refused: bool = False
    # the values a page words `detail` with in its reader's language (`mail.display.history_words`)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class PartRef:
    workflow_id: str
    workloads: list[str]
    status: str
    partner: str = ""
    seq: int = 0  # the part's reports to its parent are numbered 1, 2, ...: a lower one is stale


@dataclass
class Milestones:
    contacted_at: datetime | None = None
    kickoff_at: datetime | None = None
    cpor_claimed_at: datetime | None = None
    account_team_contacted_at: datetime | None = None
    contact_due_at: datetime | None = None
    contact_overdue: bool = False


@dataclass
class Completion:
    vas_sold: bool
    vas_value: float | None = None
    notes: str = ""
    completed_at: datetime | None = None


@dataclass
class ReferralState:
    referral_id: str
    workflow_id: str
    parent_id: str | None
    type: str
    workloads: list[str]
    status: Status
    customer_country: str
    seats: int
    created_at: datetime
    assignments: list[Assignment] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    parts: list[PartRef] = field(default_factory=list)
    milestones: Milestones = field(default_factory=Milestones)
    completion: Completion | None = None
    waiting_for: str = ""
    escalation: str = ""  # why it is escalated, in words (CLI, API); "" when it is not
    escalated_by: MatchExplanation | None = None  # the match that escalated it, while it is
    cancel_reason: str = ""

    @property
    def current(self) -> Assignment | None:
        if self.assignments and self.assignments[-1].outcome in Outcome.OPEN:
            return self.assignments[-1]
        return None


# ---------------------------------------------------------------------------------------
# Workflow inputs and partner / operator actions
# ---------------------------------------------------------------------------------------


@dataclass
class ReferralInput:
    referral: Referral
    parent_id: str | None = None  # set for split parts
    workloads: list[str] | None = None  # a part's workloads (None: the referral's)
    excluded: list[str] = field(default_factory=list)  # partners a part inherits as excluded


@dataclass
class PartnerAction:
    """One partner action (update argument, or signal payload with `action` set)."""

    partner: str
    action: str = ""  # one of Action.PARTNER (set for the signal; the update's name otherwise)
    reason: str = ""
    note: str = ""
    vas_sold: bool | None = None
    vas_value: float | None = None
    notes: str = ""


@dataclass
class OperatorAction:
    action: str  # one of Action.OPERATOR
    reason: str = ""
    operator: str = "operator"


@dataclass
class ActionResult:
    referral_id: str
    status: Status
    message: str


@dataclass
class ReferralSummary:
    referral_id: str
    status: Status
    assignments: list[Assignment]
    parts: list[PartRef]
    completion: Completion | None
    started_at: datetime
    ended_at: datetime
    time_to_accept_seconds: float | None = None


# ---------------------------------------------------------------------------------------
# Activity inputs and outputs
# ---------------------------------------------------------------------------------------


@dataclass
class Deadline:
    due_at: datetime  # aware, UTC
    local_text: str  # e.g. "Tue 1 Dec 2026 15:00 CET" in the partner's zone


@dataclass
class Snapshot:
    """The whole live state of one referral or part, written to the read model."""

    state: ReferralState
    referral: Referral


@dataclass
class EmailRequest:
    kind: str
    referral: Referral
    scope_id: str  # workflow id of the referral or part
    seq: int  # assignment number the message belongs to (0: referral level)
    workloads: list[str]
    partner: PartnerContact | None = None
    due_at: datetime | None = None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class EmailResult:
    message_id: str
    status: str  # sent | duplicate | failed | retry (temporary failure, not sent yet)
    error: str = ""


@dataclass
class NotificationSent:
    """A notification attempt: the request, its first result, and the team's copy."""

    request: EmailRequest
    result: EmailResult
    team: EmailRequest
    team_retry: bool  # the copy is not delivered yet

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def error(self) -> str:
        return self.result.error

    def gave_up(self, within: timedelta) -> EmailResult:
        why = f"not delivered within {within}: {self.result.error}"
        return EmailResult(self.result.message_id, "failed", why)


@dataclass
class Publication:
    """One round trip of side effects: write the read model (when `snapshot` is set), then
    send `emails` in order, each at most once."""

    snapshot: Snapshot | None
    emails: list[EmailRequest] = field(default_factory=list)
    # history entries whose webhook events the workflow has been given (a re-run attempt
    # returns the events of the later ones again, until their delivery starts)
    published: int = 0


@dataclass
class WebhookJob:
    """Deliver one queued webhook event, retrying for up to `give_up_s` seconds."""

    event_id: str
    give_up_s: float = 86400.0


@dataclass
class PublishResult:
    emails: list[EmailResult] = field(default_factory=list)  # one per request, same order
    webhooks: list[WebhookJob] = field(default_factory=list)  # events queued by this change


@dataclass
class CapacityGrant:
    """Claim (or give back) a partner's one granted "partner at capacity" decline for one
    assignment; the same request again gives the same answer."""

    partner: str
    scope_id: str
    seq: int
    release: bool = False


@dataclass
class CporClaim:
    """A partner's claim, as the customer's partner of record, for a referral's workloads."""

    tenant_id: str
    partner: str
    workloads: list[str]
    referral_id: str
    at: datetime


@dataclass
class WeeklyReportRequest:
    since: datetime  # aware, UTC: the period's start
    until: datetime  # aware, UTC: the period's end (excluded)
    run_id: str  # idempotency key of the email (the scheduled workflow's id)


@dataclass
class WeeklyReportResult:
    message_id: str
    status: str  # sent | duplicate | failed
    recipients: list[str] = field(default_factory=list)
    referrals_total: int = 0
    error: str = ""


@dataclass
class PauseSweepRequest:
    today: str  # ISO date (UTC) of the sweep, for its log; the pauses over at its run end


@dataclass
class PauseSweepResult:
    today: str  # ISO date (the JSON converter has no plain `date`)
    resumed: list[str] = field(default_factory=list)
