"""The incremental sync of the partner API: opaque cursors over (update time, id)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta

from portal.schemas import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A sync page holds changes stamped at least this long ago: a write stamps its rows inside its
# transaction, and concurrent transactions (PostgreSQL) can commit out of stamp order. Once a
# cursor has passed a time, every change stamped before it has committed.
SETTLE = timedelta(seconds=2)


def encode_cursor(updated_at: datetime, workflow_id: str) -> str:
    """The position after a row, as an opaque URL-safe token."""
    raw = json.dumps([updated_at.astimezone(UTC).isoformat(), workflow_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; 422 for anything this API did not issue."""
    bad = ApiError(422, "invalid_request", "cursor: not a cursor this API issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, workflow_id = json.loads(raw.decode())
        when = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(workflow_id, str) or when.tzinfo is None:
        raise bad
    try:
        return when.astimezone(UTC), workflow_id
    except OverflowError:  # an offset that takes it past year 1 or 9999
        raise bad from None


def as_utc(at: datetime) -> datetime:
    """`updated_since`: without an offset it is taken as UTC."""
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:  # an offset that takes it past year 1 or 9999
        raise ApiError(422, "invalid_request", "updated_since: out of range") from None
