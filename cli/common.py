"""Argument types and file reading shared by the command modules."""

from __future__ import annotations

import argparse
import math
import re
import sys
from datetime import date
from pathlib import Path

from cli.errors import bad_input
from domain.validation import COUNTRY_CODES

_MPN = re.compile(r"^[A-Za-z0-9]{1,64}$")
_REFERRAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
MAX_FILE_BYTES = 20 * 1024 * 1024


def iso_date(text: str) -> date:
    """argparse type: YYYY-MM-DD."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (use YYYY-MM-DD, e.g. 2026-03-31)"
        ) from None


def mpn_id(text: str) -> str:
    """argparse type: an MPN ID (letters and digits)."""
    if not _MPN.match(text.strip()):
        raise argparse.ArgumentTypeError(f"not an MPN ID: {text!r} (letters and digits)")
    return text.strip()


def referral_id(text: str) -> str:
    """argparse type: a referral (or split part) id."""
    if not _REFERRAL_ID.match(text.strip()):
        raise argparse.ArgumentTypeError(
            f"not a referral id: {text!r} (letters, digits, '.', '_' or '-')"
        )
    return text.strip()


def country(text: str) -> str:
    """argparse type: an ISO 3166-1 alpha-2 country code."""
    code = text.strip().upper()
    if code not in COUNTRY_CODES:
        raise argparse.ArgumentTypeError(f"unknown country {text!r} (ISO codes like US, DE, GB)")
    return code


def positive(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def amount(text: str) -> float:
    """argparse type: a finite number >= 0 (a currency amount)."""
    try:
        value = float(text.replace(",", "").replace("_", "").strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an amount: {text!r} (a number, e.g. 12000)"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"the amount must be 0 or more, got {text!r}")
    return value


def yes_no(text: str) -> bool:
    """argparse type: yes|no (also true/false)."""
    value = text.strip().lower()
    if value in ("yes", "y", "true"):
        return True
    if value in ("no", "n", "false"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


def read_text(path: str) -> str:
    """A UTF-8 file's text ('-' reads stdin); problems are bad input (exit 2)."""
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.exists():
        raise bad_input(f"no such file: {path}")
    if not p.is_file():
        raise bad_input(f"not a file: {path}")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise bad_input(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise bad_input(f"{path} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise bad_input(f"cannot read {path}: {err.strerror}") from None
