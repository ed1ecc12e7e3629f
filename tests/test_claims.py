"""CPOR claims: the JSON-lines import (idempotent, all or nothing), list, revoke, the
partner's own claim, and the directory audit trail of every change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from db.audit import Action, Actor, DirectoryAudit
from db.claims import ClaimStore, UnknownClaim
from db.directory import PartnerDirectory, UnknownPartner
from db.tokens import TokenStore
from domain.claims import Claim, load_claim_lines
from domain.validation import ValidationError
from tests.dbfixtures import T0, Database, partner_profile

ROOT = Path(__file__).resolve().parent.parent
ALICE = Actor("operator:alice", "contract signed")


def claim(tenant: str, mpn: str, *workloads: str, at: datetime | None = None) -> Claim:
    return Claim(tenant, mpn, tuple(sorted(workloads)), at)


async def _with_partners(database: Database, *ids: str) -> None:
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile(m) for m in ids], T0)


# ----------------------------------------------------------------------------- format


def test_claim_lines_parse_with_defaults_and_normalized_tenant() -> None:
    text = (
        '{"tenant_id": " ABC-1 ", "mpn_id": 4711001, "workloads": ["Teams", "teams"]}\n'
        "\n"
        '{"tenant_id": "t2", "mpn_id": "2", "workloads": ["intune"], "claimed_at": "2026-01-05"}\n'
    )
    first, second = load_claim_lines(text, T0)
    assert first == Claim("abc-1", "4711001", ("teams",), None)
    assert second.claimed_at == datetime(2026, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "line 1: not valid JSON"),
        ('["x"]', "line 1: expected a JSON object"),
        ('{"tenant_id": "t", "mpn_id": "1", "workloads": ["skype"]}', "unknown workload 'skype'"),
        ('{"tenant_id": "t", "mpn_id": "1", "workloads": []}', "workloads must be a non-empty"),
        ('{"mpn_id": "1", "workloads": ["teams"]}', "tenant_id is required"),
        ('{"tenant_id": "t", "mpn_id": "1 2", "workloads": ["teams"]}', "mpn_id must be"),
        ('{"tenant_id": "t", "mpn_id": "1", "workloads": ["teams"], "x": 1}', "unknown field 'x'"),
        (
            '{"tenant_id": "t", "mpn_id": "1", "workloads": ["teams"], "claimed_at": "2999-01-01"}',
            "in the future",
        ),
    ],
)
def test_bad_claim_lines_are_one_line_errors_naming_the_line(line: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as err:
        load_claim_lines(line, T0)
    assert "\n" not in str(err.value)


def test_the_sample_claims_name_sample_partners_and_the_cpor_sample_referral() -> None:
    claims = load_claim_lines((ROOT / "data" / "claims.jsonl").read_text(), T0)
    partners = {p["mpn_id"] for p in json.loads((ROOT / "data" / "partners.json").read_text())}
    referrals = json.loads((ROOT / "data" / "referrals.json").read_text())
    cpor = {
        (r["customer"]["tenant_id"], r["cpor_partner"]) for r in referrals if r.get("cpor_partner")
    }
    assert {c.mpn_id for c in claims} <= partners
    assert cpor <= {(c.tenant_id, c.mpn_id) for c in claims}


def test_an_empty_claims_file_is_refused() -> None:
    with pytest.raises(ValidationError, match="no claims"):
        load_claim_lines("\n\n", T0)


# ----------------------------------------------------------------------------- store


async def test_importing_the_same_claims_twice_changes_nothing(database: Database) -> None:
    await _with_partners(database, "1", "2")
    store = ClaimStore(database.sessionmaker)
    claims = [claim("t1", "1", "teams"), claim("t1", "2", "intune", at=T0 - timedelta(days=3))]
    first = await store.import_claims(claims, T0, ALICE)
    again = await store.import_claims(claims, T0 + timedelta(hours=1), ALICE)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    rows = await store.list("T1")
    assert [(r.mpn_id, r.workloads, r.claimed_at, r.source) for r in rows] == [
        ("1", ["teams"], T0, "import"),
        ("2", ["intune"], T0 - timedelta(days=3), "import"),
    ]
    changed = await store.import_claims([claim("t1", "1", "teams", "exchange")], T0, ALICE)
    assert changed.updated == 1
    assert (await store.list("t1", "1"))[0].workloads == ["exchange", "teams"]


async def test_an_import_naming_an_unknown_partner_writes_nothing(database: Database) -> None:
    await _with_partners(database, "1")
    store = ClaimStore(database.sessionmaker)
    with pytest.raises(UnknownPartner):
        await store.import_claims([claim("t1", "1", "teams"), claim("t1", "9", "teams")], T0, ALICE)
    assert await store.list() == []
    assert await DirectoryAudit(database.sessionmaker).list(tenant_id="t1") == []


async def test_a_revoked_claim_stays_as_history_and_no_longer_counts(database: Database) -> None:
    await _with_partners(database, "1")
    store = ClaimStore(database.sessionmaker)
    await store.import_claims([claim("t1", "1", "teams")], T0, ALICE)
    revoked = await store.revoke("T1", "1", T0 + timedelta(days=1), Actor("operator:bob", "moved"))
    assert revoked.revoked_by == "operator:bob" and revoked.revoke_reason == "moved"
    assert await store.list() == [] and await store.active_for("t1") == []
    assert [r.active for r in await store.list(include_revoked=True)] == [False]
    with pytest.raises(UnknownClaim):
        await store.revoke("t1", "1", T0, ALICE)
    await store.import_claims([claim("t1", "1", "teams")], T0 + timedelta(days=2), ALICE)
    assert len(await store.list(include_revoked=True)) == 2 and len(await store.list()) == 1


async def test_the_partners_own_claim_is_recorded_once_and_extended(database: Database) -> None:
    await _with_partners(database, "1")
    store = ClaimStore(database.sessionmaker)
    kw: dict[str, Any] = {"tenant_id": "T1", "mpn_id": "1", "referral_id": "FT-1", "at": T0}
    first = await store.record_partner_claim(workloads=["teams"], **kw)
    again = await store.record_partner_claim(workloads=["teams"], **kw)
    assert first is not None and again is not None and first.id == again.id
    assert (first.source, first.referral_id, first.recorded_by) == ("partner", "FT-1", "partner:1")
    wider = await store.record_partner_claim(workloads=["intune", "teams"], **kw)
    assert wider is not None and wider.workloads == ["intune", "teams"]
    assert await store.active_for("t1") == [Claim("t1", "1", ("intune", "teams"), T0, "partner")]
    assert await store.record_partner_claim(workloads=["teams"], **{**kw, "tenant_id": " "}) is None
    actions = [e.action for e in await DirectoryAudit(database.sessionmaker).list(mpn_id="1")]
    assert actions == [Action.PROFILE_CREATED, Action.CLAIM_CREATED, Action.CLAIM_UPDATED]


async def test_directory_changes_are_audited_with_who_what_when_why(database: Database) -> None:
    sessions = database.sessionmaker
    directory = PartnerDirectory(sessions)
    await directory.upsert([partner_profile("1")], T0, ALICE)
    await directory.upsert([partner_profile("1", languages=["fr"])], T0, ALICE)
    bob = Actor("operator:bob", "holiday")
    await directory.pause("1", (T0 + timedelta(days=5)).date(), T0, bob)
    await directory.resume("1", T0, Actor("operator:carol"))
    await directory.pause("1", T0.date(), T0, bob)
    later = T0 + timedelta(days=1)
    assert await directory.resume_expired(later) == ["1"]
    tokens = TokenStore(sessions)
    await tokens.issue("1", later, ALICE)
    await tokens.revoke("1", later, ALICE)
    events = await DirectoryAudit(sessions).list(mpn_id="1")
    assert [(e.actor, e.action) for e in events] == [
        ("operator:alice", Action.PROFILE_CREATED),
        ("operator:alice", Action.PROFILE_UPDATED),
        ("operator:bob", Action.PAUSED),
        ("operator:carol", Action.RESUMED),
        ("operator:bob", Action.PAUSED),
        ("system:pause-sweep", Action.PAUSE_ENDED),
        ("operator:alice", Action.TOKEN_ISSUED),
        ("operator:alice", Action.TOKENS_REVOKED),
    ]
    assert events[1].detail == "changed: languages" and events[0].reason == "contract signed"
    assert events[5].reason == f"the pause ended on {T0.date()}"
    assert events[7].detail == "1 active token(s) revoked"
    assert [e.at for e in events] == [T0] * 5 + [later] * 3


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    env.pop("OPERATOR", None)
    env.update(TEMPORAL_ADDRESS="127.0.0.1:1", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/c.db")

    def call(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, str(ROOT / "starter.py"), *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return call


def test_claims_commands_import_list_revoke_and_audit_the_operator(
    cli: Any, tmp_path: Path
) -> None:
    partners = tmp_path / "partners.json"
    profile = {"mpn_id": "4711001", "name": "Contoso", "referral_contact": "r@contoso.example",
               "workloads": ["teams"], "languages": ["de"], "home_country": "DE",
               "timezone": "Europe/Berlin"}  # fmt: skip
    partners.write_text(json.dumps(profile))
    assert cli("partners", "import", str(partners), "--as", "alice").returncode == 0
    claims = tmp_path / "claims.jsonl"
    claims.write_text('{"tenant_id": "T-1", "mpn_id": "4711001", "workloads": ["teams"]}\n')
    r = cli("partners", "claims", "import", str(claims), "--json", OPERATOR="bob")
    assert r.returncode == 0 and json.loads(r.stdout)["created"] == 1, r.stderr
    r = cli("partners", "claims", "import", str(claims))
    assert r.stdout.strip() == "1 claim(s): 0 created, 0 updated, 1 unchanged"
    listed = json.loads(cli("partners", "claims", "list", "--tenant", "t-1", "--json").stdout)
    assert [(c["mpn_id"], c["workloads"], c["recorded_by"]) for c in listed] == [
        ("4711001", ["teams"], "operator:bob")
    ]
    r = cli("partners", "claims", "revoke", "--tenant", "T-1", "--partner", "4711001",
            "--reason", "customer moved", "--as", "carol")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = cli("partners", "claims", "revoke", "--tenant", "T-1", "--partner", "4711001")
    assert r.returncode == 3 and r.stderr.startswith("error: no active claim")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tenant_id": "T-2", "mpn_id": "999", "workloads": ["teams"]}\n')
    r = cli("partners", "claims", "import", str(bad))
    assert r.returncode == 3 and "unknown partner '999'" in r.stderr
    assert cli("partners", "claims", "import", str(tmp_path / "none.jsonl")).returncode == 2
    events = json.loads(cli("partners", "audit", "--json").stdout)
    assert [(e["actor"], e["action"], e["reason"]) for e in events] == [
        ("operator:alice", "profile_created", "import of partners.json"),
        ("operator:bob", "claim_created", "import of claims.jsonl"),
        ("operator:carol", "claim_revoked", "customer moved"),
    ]


def test_as_overrides_operator_from_the_environment_and_must_be_one_line(cli: Any) -> None:
    from cli.actor import operator
    from cli.app import build_parser

    args = build_parser().parse_args(["referral", "cancel", "FT-1", "--reason", "x", "--as", "ann"])
    assert operator(args) == "operator:ann"
    r = cli("partners", "resume", "4711001", "--as", "a\tb")
    assert r.returncode == 2 and "--as must be a name" in r.stderr
