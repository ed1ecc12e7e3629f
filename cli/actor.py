"""Who is acting: `--as NAME`, else `OPERATOR` from the environment, else the OS user name;
recorded as `operator:NAME` with the `--reason` given, in every audit trail."""

from __future__ import annotations

import argparse
import getpass
import os
import unicodedata
from typing import Any

from cli.errors import bad_input
from db.audit import Actor

MAX_NAME = 100


def add_actor_arguments(parser: Any, *, reason: bool = True) -> None:
    """`--as NAME` (and `--reason TEXT` unless the command has its own)."""
    parser.add_argument(
        "--as",
        dest="acting_as",
        metavar="NAME",
        help="who is acting, for the audit trail (default: $OPERATOR, else your user name)",
    )
    if reason:
        parser.add_argument("--reason", default="", help="why (recorded in the audit trail)")


def operator_name(args: argparse.Namespace | None = None) -> str:
    """The acting person's name: --as, $OPERATOR, the OS user name (checked: one line)."""
    given = getattr(args, "acting_as", None) if args is not None else None
    source = "--as"
    if given is None:
        given, source = os.environ.get("OPERATOR"), "OPERATOR"
    if given is None or not given.strip():
        try:
            return getpass.getuser() or "unknown"
        except (KeyError, OSError):
            return "unknown"
    name = given.strip()
    if len(name) > MAX_NAME or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise bad_input(f"{source} must be a name on one line of at most {MAX_NAME} characters")
    return name


def operator(args: argparse.Namespace | None = None) -> str:
    """The actor string of an operator: `operator:NAME`."""
    return f"operator:{operator_name(args)}"


def actor(args: argparse.Namespace, default_reason: str = "") -> Actor:
    """Who (`operator:NAME`) and why (`--reason`, else `default_reason`) for a directory
    change."""
    reason = (getattr(args, "reason", "") or "").strip()
    return Actor(operator(args), reason or default_reason)


def file_reason(path: str) -> str:
    """The default reason of an import: the file it came from."""
    return "import from stdin" if path == "-" else f"import of {os.path.basename(path)}"
