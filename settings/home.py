"""FASTTRACK_HOME: the folder whose `var/` (the demo's database, payload key, dev server state
and mail) and `data/` (the demo's sample data) a process uses, never the installed code's; and
the demo marker in it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

ENV_FILE = ".env"  # read from the current directory when present; the environment wins


def fasttrack_home(environ: Mapping[str, str] | None = None) -> Path:
    """FASTTRACK_HOME (from the environment, else `.env`), or the working directory: the
    folder whose `var/` and `data/` a process uses, never the installed code's."""
    if environ is None:
        environ = os.environ
        value = environ.get("FASTTRACK_HOME") or dotenv_values(ENV_FILE).get("FASTTRACK_HOME")
    else:
        value = environ.get("FASTTRACK_HOME")
    return Path(value).expanduser().resolve() if value else Path.cwd()


def database_url_in(home: Path) -> str:
    """The demo's SQLite file under `home`."""
    return f"sqlite+aiosqlite:///{home / 'var' / 'fasttrack.db'}"


# Read once, when the process starts (like every setting): this process's home and its folders.
HOME = fasttrack_home()
VAR_DIR = HOME / "var"
DATA_DIR = HOME / "data"
DEFAULT_DATABASE_URL = database_url_in(HOME)


# Written by `make demo` and `worker.py --dev` in their home's var/: the CLI and the portal
# run in the same home accept the same embedded defaults.
def demo_marker(home: Path) -> Path:
    return home / "var" / "demo-mode"


DEMO_MARKER = demo_marker(HOME)


def mark_demo(home: Path = HOME) -> None:
    """This home runs the demo: its CLI and portal may use the embedded defaults."""
    marker = DEMO_MARKER if home == HOME else demo_marker(home)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("written by `make demo` / `worker.py --dev`; `make clean` removes it\n")
