"""Sign-in and action links are credentials: no log line may hold one. Every log record of
the process (uvicorn's access log included) has the token of `/signin/<token>` and
`/act/<token>` replaced before any handler sees it."""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN = re.compile(r"(/(?:signin|act)/)[^\s/?#\"']+")
REDACTED = r"\1[redacted]"
_installed: list[bool] = []


def redact(text: str) -> str:
    """`text` with the token of every sign-in and action link path replaced."""
    return _TOKEN.sub(REDACTED, text) if ("/signin/" in text or "/act/" in text) else text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def install() -> None:
    """Wrap the process's log record factory (once): records keep the shape of their
    arguments (uvicorn's access formatter unpacks them), only tokens are replaced."""
    if _installed:
        return
    _installed.append(True)
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return record

    logging.setLogRecordFactory(factory)
