"""What a reader of the Temporal server's storage sees of a workflow history: its JSON with
every payload's data decoded from base64 (searching the JSON alone finds nothing in a
payload, encrypted or not)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import Any


def readable_history(history_json: str) -> str:
    """The history's JSON followed by the decoded data of each payload in it."""
    found: list[str] = [history_json]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, str) and "metadata" in node:
                with contextlib.suppress(binascii.Error, ValueError):
                    found.append(base64.b64decode(data).decode("utf-8", errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return "\n".join(found)
