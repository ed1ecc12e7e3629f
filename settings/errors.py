"""The one error a bad configuration raises: its message is one line, for the user."""

from __future__ import annotations


class SettingsError(ValueError):
    """A configuration value is malformed or missing (message is one line, for the user)."""


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
