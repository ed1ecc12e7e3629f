"""How the processes start wherever they are installed: `var/` and `data/` under FASTTRACK_HOME
(default: the working directory), one line when Temporal is unreachable, and LOG_LEVEL /
LOG_FORMAT for the worker and the portal."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.logs import configure_logging, core_logging
from runtime.metrics import runtime_from_env
from settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_python(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` with the project importable but run from `cwd`, as an installed copy is."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTTRACK_")}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


def test_var_and_data_are_in_the_working_directory_unless_fasttrack_home_says_otherwise(
    tmp_path: Path,
) -> None:
    show = (
        "import settings as s; print(s.VAR_DIR); print(s.DATA_DIR); print(s.DEFAULT_DATABASE_URL)"
    )
    here = run_python(["-c", show], cwd=tmp_path)
    assert here.stdout.split() == [
        str(tmp_path / "var"),
        str(tmp_path / "data"),
        f"sqlite+aiosqlite:///{tmp_path / 'var' / 'fasttrack.db'}",
    ], here.stderr
    home = tmp_path / "home"
    there = run_python(["-c", show], cwd=tmp_path, FASTTRACK_HOME=str(home))
    assert there.stdout.split()[:2] == [str(home / "var"), str(home / "data")], there.stderr


def test_settings_from_an_environment_put_the_demo_files_under_its_home(tmp_path: Path) -> None:
    s = Settings.from_env({"FASTTRACK_HOME": str(tmp_path), "FASTTRACK_ENV": "demo"})
    assert s.home == tmp_path.resolve() and s.var_dir == tmp_path.resolve() / "var"
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'var' / 'fasttrack.db'}"
    assert s.payload_key_file == tmp_path.resolve() / "var" / "payload-keys.json"
    assert s.data_dir == tmp_path.resolve() / "data"
    own = Settings.from_env(
        {"FASTTRACK_HOME": str(tmp_path), "FASTTRACK_ENV": "demo", "DATABASE_URL": "sqlite://"}
    )
    assert own.database_url == "sqlite://"


def test_the_worker_without_temporal_says_so_in_one_line(tmp_path: Path) -> None:
    port = closed_port()
    r = run_python(
        [str(ROOT / "worker.py")],
        cwd=tmp_path,
        FASTTRACK_ENV="demo",
        FASTTRACK_HOME=str(tmp_path / "home"),
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        METRICS_PORT="off",
    )
    assert r.returncode != 0
    assert r.stderr == (
        f"worker: cannot reach Temporal at 127.0.0.1:{port} (connection refused) — start it "
        "with `make demo` or set TEMPORAL_ADDRESS\n"
    )
    assert "polling" not in r.stdout
    assert not (tmp_path / "var").exists()  # the demo's files went to FASTTRACK_HOME


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_log_format_json_writes_one_object_per_line(root_logging: None) -> None:
    out = io.StringIO()
    settings = Settings.from_env({"FASTTRACK_ENV": "demo", "LOG_FORMAT": "JSON"})
    configure_logging(settings, "INFO", out)
    log = logging.getLogger("fasttrack.test")
    log.info("referral %s assigned", "FT-1", extra={"temporal_activity": {"attempt": 2}})
    log.debug("not shown at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("INFO", "fasttrack.test", "referral FT-1 assigned"),
        ("ERROR", "fasttrack.test", "failed"),
    ]
    assert lines[0]["temporal_activity"] == {"attempt": 2}
    assert lines[0]["time"].endswith("+00:00")
    assert "ValueError: boom" in lines[1]["exception"]


def test_log_level_and_text_format_apply_to_every_logger(root_logging: None) -> None:
    out = io.StringIO()
    configure_logging(
        Settings.from_env({"FASTTRACK_ENV": "demo", "LOG_LEVEL": "warning"}), "INFO", out
    )
    logging.getLogger("uvicorn.access").info("GET / 200")
    logging.getLogger("temporalio.worker").warning("slow poll")
    [line] = out.getvalue().splitlines()
    assert line.endswith(" WARNING temporalio.worker slow poll")


def test_a_bad_log_setting_is_one_line_naming_it() -> None:
    with pytest.raises(SettingsError, match=r"^LOG_FORMAT: "):
        Settings.from_env({"FASTTRACK_ENV": "demo", "LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match=r"^LOG_LEVEL: "):
        Settings.from_env({"FASTTRACK_ENV": "demo", "LOG_LEVEL": "loud"})


def test_with_json_logs_the_sdk_core_logs_through_python_logging_too() -> None:
    assert core_logging(Settings()) is None  # text: the core keeps its own lines
    forwarding = core_logging(Settings(log_format="json"))
    assert forwarding is not None and forwarding.forwarding is not None
    assert forwarding.forwarding.logger.name == "temporalio.core"
    runtime, address = runtime_from_env({"METRICS_PORT": "off"}, logging=forwarding)
    assert runtime is not None and address == ""
