"""The operator CLI without a Temporal server: parsing, validation and error paths.

Commands run as subprocesses (as operators run them): exit codes, one-line errors, no
tracebacks. TEMPORAL_ADDRESS points at a closed port, DATABASE_URL at a fresh SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from argparse import Namespace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from cli.app import build_parser
from cli.errors import BAD_INPUT, NOT_FOUND, REFUSED, UNAVAILABLE, classify, from_update_failure
from cli.listing import visibility_query
from cli.output import table, to_jsonable
from domain.models import Customer, Referral
from domain.policy import reason_problem
from domain.summary import static_summary
from mail.report_charts import Series, bar_chart
from portal.schemas import CancelBody

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "127.0.0.1:1"


def partner_json(mpn: str = "4711001") -> dict[str, Any]:
    return {
        "mpn_id": mpn,
        "name": "Contoso Cloud Services",
        "referral_contact": "referrals@contoso.example",
        "workloads": ["teams", "sharepoint"],
        "languages": ["en", "de"],
        "home_country": "DE",
        "timezone": "Europe/Berlin",
    }


def referral_json(rid: str = "FT-2026-000123") -> dict[str, Any]:
    return {
        "referral_id": rid,
        "type": "benefit",
        "customer": {
            "name": "Fabrikam Ltd",
            "country": "DE",
            "language": "de",
            "segment": "commercial",
            "seats": 2400,
        },
        "workloads": ["teams", "sharepoint"],
    }


@pytest.fixture
def run(tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    env.update(
        TEMPORAL_ADDRESS=UNREACHABLE,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
    )

    def call(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, str(ROOT / "starter.py"), *args],
            cwd=ROOT,
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 134, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode != 0:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result

    return call


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# ------------------------------------------------------------------- subprocess: exit codes


def test_help_documents_exit_codes(run: Any) -> None:
    r = run("--help")
    assert r.returncode == 0
    for line in ("0  ok", "1  action refused", "2  bad input", "3  not found", "4  service"):
        assert line in r.stdout
    assert run("referral", "complete", "--help").returncode == 0


def test_usage_errors_are_one_line_exit_2(run: Any) -> None:
    for args in (
        (),
        ("bogus",),
        ("referral", "accept", "FT-1"),  # --partner missing
        ("referral", "complete", "FT-1", "--partner", "1", "--vas-sold", "maybe"),
        ("referral", "complete", "FT-1", "--partner", "1", "--vas-sold", "yes",
         "--vas-value", "-5"),
        ("referral", "list", "--status", "sleeping"),
        ("partners", "pause", "4711001", "--until", "2026-02-30"),
        ("report", "--since", "yesterday"),
    ):  # fmt: skip
        r = run(*args)
        assert r.returncode == BAD_INPUT, (args, r.stderr)
        assert r.stderr.startswith("error: "), r.stderr


def test_malformed_json_is_exit_2_before_contacting_temporal(run: Any, tmp_path: Path) -> None:
    r = run("referral", "create", write(tmp_path, "bad.json", '{"referral_id": "FT-1",'))
    assert r.returncode == BAD_INPUT
    assert r.stderr.startswith("error: invalid JSON at line 1")
    assert r.stdout == ""


def test_create_validates_the_whole_file_first(run: Any, tmp_path: Path) -> None:
    bad = referral_json("FT-2")
    bad["workloads"] = ["teams", "skype"]
    r = run("referral", "create", write(tmp_path, "two.json", [referral_json("FT-1"), bad]))
    assert r.returncode == BAD_INPUT  # not 4: nothing was started, Temporal never asked
    assert "skype" in r.stderr and r.stdout == ""
    assert run("referral", "create", str(tmp_path / "missing.json")).returncode == BAD_INPUT


def test_decline_reason_is_checked_locally(run: Any) -> None:
    r = run("referral", "decline", "FT-1", "--partner", "4711001", "--reason", "too_busy")
    assert r.returncode == BAD_INPUT
    assert "customer_prefers_fasttrack_center" in r.stderr  # the allowed list
    r = run("referral", "decline", "FT-1", "--partner", "4711001", "--reason", "other")
    assert r.returncode == BAD_INPUT and "--note" in r.stderr


def test_a_cancel_without_a_reason_gets_the_rules_words_on_every_path(run: Any) -> None:
    """`domain.policy.reason_problem`, which the operator page also shows: the CLI and the
    admin API's body check say the same."""
    r = run("referral", "cancel", "FT-1", "--reason", "  ")
    assert r.returncode == BAD_INPUT
    assert r.stderr.strip() == "error: --reason: a cancellation needs a reason"
    with pytest.raises(ValidationError, match="a cancellation needs a reason"):
        CancelBody(reason="  ")
    assert str(reason_problem("cancel", " ")) == "a cancellation needs a reason"


def test_complete_value_without_sale_is_bad_input(run: Any) -> None:
    r = run(
        "referral", "complete", "FT-1", "--partner", "1", "--vas-sold", "no", "--vas-value", "10"
    )
    assert r.returncode == BAD_INPUT


def test_temporal_unreachable_is_exit_4(run: Any, tmp_path: Path) -> None:
    for args in (
        ("referral", "list"),
        ("referral", "show", "FT-1"),
        ("referral", "accept", "FT-1", "--partner", "4711001"),
        ("referral", "cancel", "FT-1", "--reason", "duplicate"),
        ("referral", "create", write(tmp_path, "one.json", referral_json())),
    ):
        r = run(*args)
        assert r.returncode == UNAVAILABLE, (args, r.stderr)
        assert "127.0.0.1:1" in r.stderr


def test_database_unreachable_is_exit_4(run: Any) -> None:
    r = run("partners", "list", DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert r.returncode == UNAVAILABLE
    assert r.stderr.startswith("error: cannot open PostgreSQL")


def test_partners_directory_commands(run: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "partners.json", [partner_json("4711001"), partner_json("4711002")])
    r = run("partners", "import", path)
    assert r.returncode == 0 and "2 created" in r.stdout
    r = run("partners", "import", path, "--json")
    assert json.loads(r.stdout)["unchanged"] == 2

    r = run("partners", "list", "--json")
    assert [p["mpn_id"] for p in json.loads(r.stdout)] == ["4711001", "4711002"]
    assert "Contoso" in run("partners", "list").stdout

    soon = (date.today() + timedelta(days=30)).isoformat()
    r = run("partners", "pause", "4711001", "--until", soon, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["paused_until"] == soon
    assert run("partners", "pause", "4711001", "--until", "2000-01-01").returncode == BAD_INPUT
    assert run("partners", "resume", "4711001").returncode == 0
    assert run("partners", "pause", "999", "--until", "2099-01-01").returncode == NOT_FOUND

    r = run("partners", "token", "4711002")
    assert r.returncode == 0
    assert r.stdout.startswith("ftp_") and len(r.stdout.strip().splitlines()) == 1
    assert "revoked 1 token" in run("partners", "token", "4711002", "--revoke").stdout
    assert run("partners", "token", "999").returncode == NOT_FOUND


def test_partner_import_is_all_or_nothing(run: Any, tmp_path: Path) -> None:
    bad = partner_json("4711002")
    bad["segments"] = ["enterprise"]
    r = run("partners", "import", write(tmp_path, "p.json", [partner_json("4711001"), bad]))
    assert r.returncode == BAD_INPUT and "enterprise" in r.stderr
    assert json.loads(run("partners", "list", "--json").stdout) == []


def test_report_text_json_and_html(run: Any, tmp_path: Path) -> None:
    r = run("report")
    assert r.returncode == 0 and "open referrals by age" in r.stdout
    html = tmp_path / "report.html"
    r = run("report", "--json", "--since", "2026-01-01", "--html", str(html))
    assert r.returncode == 0
    assert json.loads(r.stdout)["referrals_total"] == 0
    page = html.read_text()
    assert (
        page.startswith("<!DOCTYPE html>")
        and "<svg" in page
        and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    r = run("report", "--html", str(tmp_path / "no" / "such" / "dir.html"))
    assert r.returncode == BAD_INPUT


# ---------------------------------------------------------------------- in-process: helpers


def _args(**kw: Any) -> Namespace:
    base = {"status": None, "partner": None, "type": None, "country": None, "overdue": False}
    return Namespace(**{**base, **kw})


def test_visibility_queries() -> None:
    assert visibility_query(_args(), "X") == 'WorkflowType = "ReferralWorkflow"'
    q = visibility_query(
        _args(status="active", partner="4711001", type="benefit", country="DE"), "X"
    )
    assert q == (
        'WorkflowType = "ReferralWorkflow" AND ReferralStatus = "active" AND '
        'PartnerId = "4711001" AND ReferralType = "benefit" AND CustomerCountry = "DE"'
    )
    q = visibility_query(_args(overdue=True), "2026-03-02T10:00:00Z")
    assert q.endswith(
        '(SlaDueAt < "2026-03-02T10:00:00Z" OR '
        '(ContactOverdue = true AND ReferralStatus = "active"))'
    )


def test_parser_maps_commands_to_updates() -> None:
    args = build_parser().parse_args(["referral", "cpor-claimed", "FT-1", "--partner", "4711001"])
    assert args.update == "cpor_claimed"
    args = build_parser().parse_args(
        ["referral", "account-team-contacted", "FT-1", "--partner", "4711001"]
    )
    assert args.update == "account_team_contacted"
    args = build_parser().parse_args(["partners", "scorecard", "4711001", "--json"])
    assert (args.mpn, args.json) == ("4711001", True)
    args = build_parser().parse_args(
        ["referral", "complete", "FT-1", "--partner", "1", "--vas-sold", "yes",
         "--vas-value", "12,000"]
    )  # fmt: skip
    assert (args.vas_sold, args.vas_value) == (True, 12000.0)


def test_summary_has_no_customer_data() -> None:
    r = Referral(
        "FT-1", "benefit", Customer("Fabrikam", "DE", "de", "commercial", 2400,
                                    contact_email="it@fabrikam.example"), ["teams", "sharepoint"]
    )  # fmt: skip
    assert static_summary(r) == "benefit · teams, sharepoint · DE · 2400 seats"


def test_error_classification() -> None:
    refusal = WorkflowUpdateFailedError(ApplicationError("nope", type="reason_refused"))
    assert from_update_failure(refusal).code == REFUSED
    assert from_update_failure(refusal).line() == "refused: nope"
    invalid = WorkflowUpdateFailedError(ApplicationError("bad", type="invalid_value"))
    assert from_update_failure(invalid).code == BAD_INPUT
    assert classify(RPCError("gone", RPCStatusCode.NOT_FOUND, b"")).code == NOT_FOUND
    namespace = classify(RPCError("Namespace nope is not found.", RPCStatusCode.NOT_FOUND, b""))
    assert namespace.code == BAD_INPUT and "TEMPORAL_NAMESPACE" in namespace.line()


def test_a_database_url_of_another_kind_is_bad_input_naming_the_setting(run: Any) -> None:
    r = run("partners", "list", DATABASE_URL="bogus://x")
    assert r.returncode == BAD_INPUT
    assert r.stderr.startswith("error: DATABASE_URL: unsupported database 'bogus'")
    assert classify(RPCError("down", RPCStatusCode.UNAVAILABLE, b"")).code == UNAVAILABLE
    assert "\n" not in classify(ValueError("a\nb")).line()


def test_table_and_json_rendering() -> None:
    text = table(("id", "status"), [("FT-1", "pending"), ("FT-22", None)])
    assert text.splitlines() == ["ID     STATUS", "FT-1   pending", "FT-22  -"]
    from datetime import UTC, datetime

    assert to_jsonable({"at": datetime(2026, 1, 2, tzinfo=UTC)}) == {
        "at": "2026-01-02T00:00:00+00:00"
    }
    svg = bar_chart("t", ["a<b"], [[3.0]], [Series("n", "#000")])
    assert "a&lt;b" in svg and "<svg" in svg
