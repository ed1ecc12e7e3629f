"""Request and response shapes of the partner portal API (they are its OpenAPI schema), and the
one error type every refusal travels as."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from domain.models import Reason, Status
from domain.policy import reason_problem

# Free text: printable, newlines and tabs allowed, no other control characters (they cannot be
# stored in PostgreSQL text columns and have no business in notes).
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Note = Annotated[str, Field(max_length=2000, pattern=TEXT_PATTERN)]
LongText = Annotated[str, Field(max_length=10000, pattern=TEXT_PATTERN)]
ReferralId = Annotated[str, Field(min_length=1, max_length=80)]


class ApiError(Exception):
    """An answer other than 2xx: rendered as `{"error": code, "message": message}`."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


def not_found(what: str = "referral") -> ApiError:
    return ApiError(404, "not_found", f"no such {what}, or it is not yours")


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable code, e.g. not_found, reason_refused")
    message: str = Field(description="human-readable explanation")


# ---------------------------------------------------------------------------- requests


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteBody(_Body):
    """Optional body of accept / contacted / kickoff / cpor-claimed."""

    note: Note = ""


class DeclineBody(_Body):
    reason: str = Field(
        description="decline reason code",
        json_schema_extra={"enum": list(Reason.ALL)},
    )
    note: Note = ""

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, value: str) -> str:
        if value not in Reason.ALL:
            raise ValueError(f"unknown decline reason (allowed: {', '.join(Reason.ALL)})")
        return value


class CompleteBody(_Body):
    vas_sold: bool = Field(description="were value-added services sold?")
    vas_value: float | None = Field(
        default=None, ge=0, description="estimated value of the value-added services"
    )
    notes: LongText = ""

    @field_validator("vas_value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class ExternalRefBody(_Body):
    external_ref: str | None = Field(
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="the partner's own record id (its CRM's); empty or null removes it",
    )


class RetryBody(_Body):
    reason: Note = ""


class CancelBody(_Body):
    reason: Note = Field(min_length=1, description="why operations cancel the referral")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        problem = reason_problem("cancel", value)
        if problem is not None:
            raise ValueError(str(problem))
        return value


# --------------------------------------------------------------------------- responses


class ActionOut(BaseModel):
    id: str = Field(description="the referral or part the action was applied to")
    status: str = Field(json_schema_extra={"enum": list(Status.ALL)})
    message: str


class ReferralItem(BaseModel):
    id: str = Field(description="workflow id: the referral id, or `<referral_id>.partN`")
    referral_id: str
    parent_id: str | None
    type: str
    status: str
    workloads: list[str]
    customer_name: str = Field(description="empty once the caller let the referral go")
    customer_country: str = Field(description="empty once the caller let the referral go")
    seats: int | None = Field(description="null once the caller let the referral go")
    current: bool = Field(description="the caller holds the open assignment")
    due_at: datetime | None = Field(description="answer due (UTC) while pending")
    created_at: datetime
    updated_at: datetime
    external_ref: str | None = Field(
        default=None, description="the caller's own record id for it (PUT …/external-ref)"
    )


class ReferralPage(BaseModel):
    """One page of the incremental sync (any of `updated_since`, `limit`, `cursor` given)."""

    items: list[ReferralItem] = Field(description="ordered by updated_at, then id")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class ExternalRefOut(BaseModel):
    id: str
    external_ref: str | None


class AdminReferralItem(ReferralItem):
    partner_id: str | None
    escalated: bool
    contact_overdue: bool
    closed_at: datetime | None


class CustomerOut(BaseModel):
    name: str
    tenant_id: str
    country: str
    language: str
    segment: str
    seats: int
    contact_email: str


class RequesterOut(BaseModel):
    name: str
    email: str
    microsoft: bool


class DueOut(BaseModel):
    utc: datetime
    local: str = Field(description='in the partner\'s time zone, e.g. "Tue 1 Dec 2026 15:00 CET"')
    timezone: str


class AssignmentOut(BaseModel):
    seq: int
    partner: str
    partner_name: str
    outcome: str
    assigned_at: datetime
    due_at: datetime | None
    decided_at: datetime | None
    reason: str
    note: str


class MilestonesOut(BaseModel):
    contacted_at: datetime | None
    kickoff_at: datetime | None
    cpor_claimed_at: datetime | None
    account_team_contacted_at: datetime | None = None
    contact_due_at: datetime | None
    contact_overdue: bool


class CompletionOut(BaseModel):
    vas_sold: bool
    vas_value: float | None
    notes: str
    completed_at: datetime | None


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: str
    refused: bool
    # for the portal's pages only (`mail.display.history_words`); not part of the JSON API
    params: SkipJsonSchema[dict[str, str]] = Field(default_factory=dict, exclude=True)


class PartOut(BaseModel):
    id: str
    workloads: list[str]
    status: str
    partner: str


class ReferralDetail(BaseModel):
    id: str
    referral_id: str
    parent_id: str | None
    type: str
    status: str
    workloads: list[str]
    access: str = Field(
        default="full",
        description="full; or outcome: the caller declined or let the referral expire and "
        "sees only its own outcome and dates (no customer data)",
        json_schema_extra={"enum": ["full", "outcome"]},
    )
    customer: CustomerOut | None
    active_usage: dict[str, float]
    notes: str
    requested_by: RequesterOut | None
    account_team: list[str]
    current: bool = Field(description="the caller holds the open assignment")
    waiting_for: str
    assignment: AssignmentOut | None = Field(description="the current assignment")
    due: DueOut | None = Field(description="answer due, while the assignment is pending")
    contact_due: DueOut | None = Field(description="customer contact due, once accepted")
    assignments: list[AssignmentOut]
    milestones: MilestonesOut
    completion: CompletionOut | None
    history: list[HistoryOut]
    source: str = Field(
        description="live: read from the running workflow; snapshot: the last recorded state",
        json_schema_extra={"enum": ["live", "snapshot"]},
    )
    external_ref: str | None = Field(
        default=None, description="the caller's own record id for it (PUT …/external-ref)"
    )


class AdminReferralDetail(ReferralDetail):
    parts: list[PartOut]
    escalation: str
    cancel_reason: str


class Health(BaseModel):
    status: str


# Error responses declared on every API operation (the OpenAPI schema lists them all).
def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "missing, unknown or revoked token",
        404: "unknown referral, or not the caller's",
        409: "the action was refused (policy, state, closed)",
        422: "invalid body, parameter or Idempotency-Key",
        503: "Temporal or the database is unreachable; try again",
    }
    return {c: {"model": ErrorBody, "description": descriptions[c]} for c in codes}
