"""CPOR claims: a partner's claim on a customer tenant for some workloads, their JSON-lines
import format, and the rule by which a claim decides who gets a referral (or split part).

The rule (`cpor_verdict`): among the tenant's active claims, those covering every workload of
the scope count. The claiming partner gets the scope when it passes every eligibility
criterion (so it is endorsed for those workloads); with several, the referral's
`cpor_partner` comes first, then rank order. `cpor_partner` alone gives nothing: without a
matching claim the explanation says "claim not found".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from domain.models import WORKLOADS
from domain.validation import ValidationError

SOURCE_IMPORT = "import"
SOURCE_PARTNER = "partner"
CLAIM_FIELDS: tuple[str, ...] = ("tenant_id", "mpn_id", "workloads", "claimed_at")
MAX_TENANT_ID = 128
NOT_IN_DIRECTORY = "not in directory"

_MPN_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


@dataclass(frozen=True)
class Claim:
    """One active claim: `tenant_id` normalized (`tenant_key`), workloads sorted."""

    tenant_id: str
    mpn_id: str
    workloads: tuple[str, ...]
    claimed_at: datetime | None = None
    source: str = SOURCE_IMPORT

    def covers(self, workloads: Sequence[str]) -> bool:
        return set(workloads).issubset(self.workloads)


@dataclass(frozen=True)
class CporVerdict:
    """`chosen`: the MPN ID the claim rule assigns the scope to (None: ranking decides);
    `notes`: why the other claims (and `cpor_partner`) did not count, for the explanation."""

    chosen: str | None
    notes: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


def tenant_key(tenant_id: str) -> str:
    """Tenant ids compare without surrounding blanks and case (GUIDs are written both ways)."""
    return tenant_id.strip().lower()


def cpor_verdict(
    claims: Sequence[Claim],
    tenant_id: str,
    cpor_partner: str | None,
    workloads: Sequence[str],
    failed_of: Callable[[str], str | None],
    rank_of: Callable[[str], object],
) -> CporVerdict:
    """Apply the claim rule to one scope (the referral or a split part).

    `failed_of(mpn)`: the first eligibility criterion the partner fails, None when eligible,
    `NOT_IN_DIRECTORY` when unknown. `rank_of(mpn)`: its rank key (smaller is better).
    """
    tenant = tenant_key(tenant_id)
    mine = [c for c in claims if tenant and tenant_key(c.tenant_id) == tenant]
    notes: list[str] = []
    if cpor_partner and not any(c.mpn_id == cpor_partner for c in mine):
        notes.append(f"cpor_partner {cpor_partner}: claim not found")
    eligible: list[str] = []
    for claim in sorted(mine, key=lambda c: c.mpn_id):
        if not claim.covers(workloads):
            missing = ", ".join(w for w in workloads if w not in claim.workloads)
            if claim.mpn_id == cpor_partner:
                notes.append(f"cpor_partner {cpor_partner}: claim not found for {missing}")
            else:
                notes.append(f"claim of {claim.mpn_id} does not cover {missing}")
            continue
        failed = failed_of(claim.mpn_id)
        if failed is None:
            eligible.append(claim.mpn_id)
        elif failed == NOT_IN_DIRECTORY:
            notes.append(f"claim of {claim.mpn_id}: {NOT_IN_DIRECTORY}")
        else:
            notes.append(f"claim of {claim.mpn_id}: not eligible: {failed}")
    if not eligible:
        return CporVerdict(None, tuple(notes))
    chosen = min(eligible, key=lambda m: (m != cpor_partner, rank_of(m)))
    return CporVerdict(chosen, tuple(notes))


# ---------------------------------------------------------------------------------------
# Import format: one JSON object per line
# ---------------------------------------------------------------------------------------


def parse_claim(obj: object, where: str, now: datetime) -> Claim:
    """One claim object: tenant_id, mpn_id, workloads (a non-empty list of workload codes),
    optional claimed_at (ISO date or date-time, not after `now`; None when absent)."""
    if not isinstance(obj, dict):
        raise ValidationError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(CLAIM_FIELDS))
    if unknown:
        raise ValidationError(
            f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(CLAIM_FIELDS)})"
        )
    tenant = obj.get("tenant_id")
    if not isinstance(tenant, str) or not tenant.strip():
        raise ValidationError(f"{where}: tenant_id is required (a non-empty string)")
    if len(tenant.strip()) > MAX_TENANT_ID or any(
        unicodedata.category(ch) == "Cc" for ch in tenant
    ):
        raise ValidationError(
            f"{where}: tenant_id must be one line of at most {MAX_TENANT_ID} characters"
        )
    mpn = obj.get("mpn_id")
    if isinstance(mpn, int) and not isinstance(mpn, bool) and mpn >= 0:
        mpn = str(mpn)
    if not isinstance(mpn, str) or not _MPN_ID.match(mpn.strip()):
        raise ValidationError(f"{where}: mpn_id must be letters and digits (an MPN ID)")
    return Claim(
        tenant_id=tenant_key(tenant),
        mpn_id=mpn.strip(),
        workloads=parse_workloads(obj.get("workloads"), where),
        claimed_at=_claimed_at(obj.get("claimed_at"), where, now),
    )


def parse_workloads(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{where}: workloads must be a non-empty list of workload codes")
    out: set[str] = set()
    for w in value:
        code = w.strip().lower() if isinstance(w, str) else w
        if code not in WORKLOADS:
            raise ValidationError(
                f"{where}: unknown workload {w!r} in workloads (allowed: {', '.join(WORKLOADS)})"
            )
        out.add(str(code))
    return tuple(sorted(out))


def load_claim_lines(text: str, now: datetime) -> list[Claim]:
    """Every claim of a JSON-lines text (blank lines skipped); all valid or a one-line error
    naming the line. A (tenant, partner) pair given twice: the last line wins."""
    latest: dict[tuple[str, str], Claim] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValidationError(f"{where}: not valid JSON ({err.msg})") from None
        claim = parse_claim(obj, where, now)
        latest.pop((claim.tenant_id, claim.mpn_id), None)
        latest[(claim.tenant_id, claim.mpn_id)] = claim
    if not latest:
        raise ValidationError("no claims in the file (one JSON object per line)")
    return list(latest.values())


def _claimed_at(value: object, where: str, now: datetime) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        parsed: datetime | None
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                parsed = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
            if parsed <= now:
                return parsed.astimezone(UTC)
            raise ValidationError(f"{where}: claimed_at {text} is in the future")
    raise ValidationError(
        f"{where}: claimed_at must be an ISO date or date-time (e.g. 2026-03-01), got {value!r}"
    )
