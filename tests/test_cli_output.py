"""What the operator sees: tables fitted to a terminal (run under a real pseudo-terminal),
plain text when piped, --json unchanged, filters, help, progress, completion, packaging."""

from __future__ import annotations

import fnmatch
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cli import output, progress
from cli.app import build_parser
from cli.errors import BAD_INPUT
from cli.help import EXAMPLES
from cli.output import Column, column_widths
from cli.show import print_state, render_state
from domain.models import Assignment, HistoryEntry, Outcome, PartRef, ReferralState, Status

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A pause within the allowed 90 days, a day the whole run stays inside.
PAUSED_UNTIL = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()
WORKLOADS = ["teams", "exchange", "sharepoint", "onedrive", "intune", "defender", "copilot"]
COUNTRIES = ["AT", "BE", "CH", "DE", "DK", "FI", "FR", "GB", "IT", "NL", "PL", "SE", "US"]


def partner(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "mpn_id": str(4711000 + i),
        "name": f"Contoso Cloud Services and Modern Workplace Consulting {i} GmbH",
        "referral_contact": f"referrals@p{i}.example",
        "fasttrack_ready": True,
        "benefit_referrals": True,
        "workloads": WORKLOADS[i % 3 :],
        "languages": ["en", "de", "fr"],
        "segments": ["commercial", "education"],
        "min_seats": 150,
        "max_seats": 20000,
        "home_country": "DE",
        "countries": COUNTRIES,
        "timezone": "Europe/Berlin",
        **extra,
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "DATABASE_", "COLUMNS", "LINES"))
        and k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TERM")
    }
    base.update(
        TEMPORAL_ADDRESS="127.0.0.1:1",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
    )
    return base


def cli(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
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


def on_terminal(env: dict[str, str], *args: str, columns: int, **extra: str) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal `columns` wide; its output."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "starter.py"), *args],
        cwd=ROOT,
        env={**env, "COLUMNS": str(columns), "TERM": "xterm-256color", **extra},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    assert proc.wait(timeout=10) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def directory(env: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "partners.json"
    partners = [partner(i) for i in range(1, 6)]
    partners.append(partner(9, paused_until=PAUSED_UNTIL, countries=["FR"]))
    path.write_text(json.dumps(partners))
    assert cli(env, "partners", "import", str(path)).returncode == 0
    return path


@pytest.mark.parametrize("columns", [80, 120])
def test_partner_table_fits_the_terminal_and_colours_it(
    env: dict[str, str], directory: Path, columns: int
) -> None:
    out = on_terminal(env, "partners", "list", columns=columns)
    assert "\x1b[" in out  # styled on a terminal
    lines = [ANSI.sub("", line).rstrip() for line in out.splitlines()]
    assert max(len(line) for line in lines) <= columns, "\n".join(lines)
    for i in (1, 2, 3, 4, 5, 9):
        assert any(line.startswith(str(4711000 + i)) for line in lines)
    assert any(PAUSED_UNTIL in line for line in lines)  # the pause date is never cut


def test_piped_output_is_plain_text_one_row_per_line(env: dict[str, str], directory: Path) -> None:
    r = cli(env, "partners", "list", COLUMNS="80")
    assert r.returncode == 0 and "\x1b" not in r.stdout
    lines = r.stdout.splitlines()
    assert lines[0].split() == [
        "MPN", "NAME", "OPT-IN", "WORKLOADS", "LANG", "COUNTRIES", "SEATS", "OPEN", "PAUSED",
    ]  # fmt: skip
    assert len(lines) == 7 and lines[1].startswith("4711001  Contoso")
    assert ",".join(COUNTRIES) in lines[1]  # nothing cut or wrapped for scripts


def test_json_is_the_same_bytes_on_a_terminal_and_in_a_pipe(
    env: dict[str, str], directory: Path
) -> None:
    piped = cli(env, "partners", "list", "--json").stdout
    forced = cli(env, "partners", "list", "--json", FORCE_COLOR="1", COLUMNS="40").stdout
    assert forced == piped
    data = json.loads(piped)
    assert piped == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    assert [p["mpn_id"] for p in data] == [str(4711000 + i) for i in (1, 2, 3, 4, 5, 9)]


def test_partner_filters(env: dict[str, str], directory: Path) -> None:
    def listed(*args: str) -> list[str]:
        r = cli(env, "partners", "list", "--json", *args)
        assert r.returncode == 0, r.stderr
        return [p["mpn_id"][-1] for p in json.loads(r.stdout)]

    assert listed("--country", "fr") == ["1", "2", "3", "4", "5", "9"]
    assert listed("--country", "SE") == ["1", "2", "3", "4", "5"]
    assert listed("--workload", "teams") == ["3", "9"]
    assert listed("--workload", "exchange", "--workload", "intune") == ["1", "3", "4", "9"]
    assert listed("--paused") == ["9"]
    assert listed("--not-paused", "--country", "FR", "--limit", "2") == ["1", "2"]
    r = cli(env, "partners", "list", "--limit", "2")
    assert r.stderr == "note: showing 2 of 6 partners (raise --limit to see more)\n"
    assert len(r.stdout.splitlines()) == 3
    assert cli(env, "partners", "list", "--workload", "skype").returncode == BAD_INPUT
    assert cli(env, "partners", "list", "--paused", "--not-paused").returncode == BAD_INPUT
    assert cli(env, "partners", "list", "--country", "XX").stdout == ""
    assert "no partners match" in cli(env, "partners", "list", "--country", "JP").stdout


def test_new_options_reject_bad_values_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    for args in (
        ("referral", "list", "--after", "!!"),
        ("referral", "list", "--limit", "5", "--all"),
        ("referral", "list", "--limit", "0"),
        ("referral", "create", "x.json", "--concurrency", "0"),
    ):
        r = cli(env, *args)
        assert r.returncode == BAD_INPUT, (args, r.stderr)
        assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1


def test_unreachable_temporal_says_what_to_do(env: dict[str, str]) -> None:
    r = cli(env, "referral", "list")
    assert r.returncode == 4
    assert r.stderr == (
        "error: cannot reach Temporal at 127.0.0.1:1 (connection refused) — start it with "
        "`make demo` or set TEMPORAL_ADDRESS\n"
    )


def test_every_command_has_examples_and_the_file_formats_are_documented() -> None:
    parser = build_parser()

    def leaves(p: Any) -> list[Any]:
        subs = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs:
            return [p]
        return [leaf for child in subs[0].choices.values() for leaf in leaves(child)]

    by_name = {c.prog.split(" ", 1)[1]: c.format_help() for c in leaves(parser)}
    assert set(EXAMPLES) <= set(by_name)
    for name in EXAMPLES:
        assert f"examples:\n  {parser.prog} {name.split()[0]}" in by_name[name], name
    assert '"mpn_id": "4711001"' in by_name["partners import"]
    assert '"customer": {"name": "Fabrikam Ltd"' in by_name["referral create"]
    assert "--concurrency" in by_name["referral create"]
    assert "--after TOKEN" in by_name["referral list"]


def test_progress_is_plain_periodic_lines_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.0)
    not_a_terminal = Console(file=io.StringIO(), force_terminal=False)
    monkeypatch.setattr(progress, "err_console", lambda: not_a_terminal)
    with progress.Tracker("importing partners", 3, unit="profiles") as t:
        t.advance(2)
        t.advance()
    assert (
        err.getvalue().splitlines()[-1].startswith("progress: importing partners: 3/3 profiles (")
    )
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 60.0)
    with progress.Tracker("building the report", None) as t:
        t.step("computing the figures")
    assert quiet.getvalue() == ""  # a quick command prints no progress at all


def test_import_shows_a_progress_bar_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps([partner(i) for i in range(600)]))
    out = on_terminal(env, "partners", "import", str(path), columns=100)
    assert "importing partners" in out  # the bar, drawn on the terminal, then cleared
    assert "600 partner(s): 600 created, 0 updated, 0 unchanged" in out


def test_narrow_columns_drop_the_least_important_first() -> None:
    columns = (
        Column("id", keep=True),
        Column("name", min_width=8),
        Column("lang", drop=2),
        Column("countries", drop=1),
    )
    rows = [("4711001", "Contoso Cloud Services", ["en", "de"], ["AT", "BE", "CH", "DE"])]
    assert list(column_widths(columns, rows, 200)) == [0, 1, 2, 3]
    widths = column_widths(columns, rows, 30)
    assert list(widths) == [0, 1, 3] and sum(widths.values()) + 3 * 2 <= 30
    assert widths[0] == 7  # an id is never narrowed


def test_shell_completion_completes_options(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "completion"
    line = "starter.py partners list --wo"
    cli(
        env,
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS=" ",
        _ARGCOMPLETE_STDOUT_FILENAME=str(out),
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
    )
    assert out.read_text().split() == ["--workload"]


def test_the_package_installs_every_top_level_package_and_its_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tool = config["tool"]["setuptools"]
    assert config["project"]["scripts"]["fasttrack"] == "cli.app:main"
    include = tool["packages"]["find"]["include"]
    assert tool["packages"]["find"]["namespaces"] is True  # templates/, db/migrations/
    product = [
        d.name
        for d in ROOT.iterdir()
        if d.is_dir() and (d / "__init__.py").exists() and d.name not in ("tests", "bench")
    ]
    for name in [*product, "templates", "templates.portal", "db.migrations.versions"]:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in include), name
    patterns = tool["package-data"]["*"]
    data = [ROOT / "db/alembic.ini", ROOT / "db/migrations/script.py.mako"]
    data += [p for p in (ROOT / "templates").rglob("*") if p.is_file()]
    for path in data:
        assert any(path.match(p) for p in patterns), path
    assert set(tool["py-modules"]) == {"demo", "starter", "worker"}


def test_referral_show_wraps_long_history_to_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    state = ReferralState(
        "FT-1", "FT-1", None, "benefit", ["teams", "sharepoint"], Status.SPLIT, "DE", 2400, at,
        assignments=[Assignment(1, "4711001", "Contoso", Outcome.DECLINED, at, reason="other",
                                note="customer asked for a partner in Munich " * 3)],
        history=[HistoryEntry(at, "partner:4711001", "decline", "a long explanation " * 10)],
        parts=[PartRef("FT-1.part1", ["teams"], "active", "4711002")],
    )  # fmt: skip
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=60)
    monkeypatch.setitem(output._consoles, "out", terminal)
    print_state(state, "workflow")
    lines = [ANSI.sub("", line) for line in screen.getvalue().splitlines()]
    assert lines[0] == "FT-1  split" and "\x1b[35m" in screen.getvalue()  # magenta status
    assert max(len(line) for line in lines) <= 60
    assert any(line.startswith("  FT-1.part1") for line in lines)
    plain = render_state(state, "workflow").splitlines()
    assert plain[0] == "FT-1  split"
    assert plain[plain.index("history:") + 1].split() == ["AT", "ACTOR", "ACTION", "DETAIL"]
    assert any(len(line) > 150 for line in plain)  # piped: the detail is whole, on one line
