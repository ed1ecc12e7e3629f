"""The reader of one JSON object: typed field access whose every failure raises a one-line
`ValidationError` naming the object and the field."""

from __future__ import annotations

import difflib
import unicodedata
from datetime import date, datetime
from typing import Any, NoReturn

from domain.locales import LOCALES, parse_locale
from domain.validation.codes import (
    COUNTRY_CODES,
    EMAIL,
    ISO_DATE,
    LANGUAGE_CODES,
    MAX_LINE,
    MAX_NOTES,
    MPN_ID,
    timezones,
)

_UNSET: Any = object()


class ValidationError(ValueError):
    """Input does not follow the contract; the message is one line for the user."""


def kind_of(value: object) -> str:
    """The JSON kind of a value, for messages ("string", "list", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


LARGEST_WHOLE = 2**31 - 1  # seats and limits are 32-bit integer columns


def whole_number(text: str, largest: int = LARGEST_WHOLE) -> int | None:
    """The number a person typed as plain digits, from 0 to `largest`; None for anything else.
    ASCII only (`str.isdigit` also takes `²`, which `int` refuses), and no longer than
    `largest`, so that `int` never reads thousands of digits."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if number <= largest else None


def show(value: object) -> str:
    """A short, single-line rendering of a user's value for a message."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a huge number"
    return text if len(text) <= 40 else text[:37] + "..."


def object_label(kind: str, ident: str, where: str) -> str:
    """The prefix of an object's messages, e.g. ``partner 4711001 (#3)``."""
    if ident and where:
        return f"{kind} {ident} ({where})"
    return " ".join(part for part in (kind, ident or where) if part)


class Reader:
    """Reads the fields of one JSON object; every failure names `label` and the field."""

    def __init__(self, label: str, data: object, fields: tuple[str, ...], path: str = "") -> None:
        self.label = label
        self.path = path
        if not isinstance(data, dict):
            where = f"{path} must be" if path else "must be"
            self.fail(f"{where} a JSON object, got {kind_of(data)}")
        for key in data:
            if not isinstance(key, str):
                self.fail(f"field names must be strings, got {show(key)}")
        unknown = [key for key in data if key not in fields]
        if unknown:
            key = unknown[0]
            guess = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(fields)}"
            self.fail(f"unknown field {show(self.name(key))} ({hint})")
        self.data: dict[str, object] = data

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, message: str) -> NoReturn:
        raise ValidationError(f"{self.label}: {message}")

    def child(self, key: str, fields: tuple[str, ...]) -> Reader:
        return Reader(self.label, self.data.get(key), fields, self.name(key))

    # -- scalars -------------------------------------------------------------------------

    def text(self, key: str, *, required: bool = False, multiline: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"{self.name(key)} is required")
            return ""
        if not isinstance(value, str):
            self.fail(f"{self.name(key)} must be a string, got {kind_of(value)}")
        value = value.strip()
        if required and not value:
            self.fail(f"{self.name(key)} must not be empty")
        limit = MAX_NOTES if multiline else MAX_LINE
        if len(value) > limit:
            self.fail(f"{self.name(key)} is longer than {limit} characters")
        allowed = "\n\t" if multiline else ""
        if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
            kind = "control characters" if multiline else "line breaks or control characters"
            self.fail(f"{self.name(key)} must not contain {kind}")
        return value

    def email(self, key: str, *, required: bool = False) -> str:
        value = self.text(key, required=required)
        if value:
            self.check_email(value, self.name(key))
        return value

    def check_email(self, value: str, name: str) -> None:
        if not EMAIL.match(value) or len(value) > 254:
            self.fail(
                f"{name} must be an email address like someone@company.example, got {show(value)}"
            )

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, _UNSET)
        if value is _UNSET:
            return default
        if not isinstance(value, bool):
            self.fail(f"{self.name(key)} must be true or false, got {show(value)}")
        return value

    def whole(
        self, key: str, *, minimum: int, default: int | None, nullable: bool = False
    ) -> int | None:
        """A whole number from `minimum` to `LARGEST_WHOLE` (what every count column holds)."""
        value = self.data.get(key, _UNSET)
        if value is _UNSET or (value is None and nullable):
            return default if value is _UNSET else None
        words = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        if nullable:
            words += " or null"
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(f"{self.name(key)} must be {words}, got {show(value)}")
        if value > LARGEST_WHOLE:
            self.fail(f"{self.name(key)} must be at most {LARGEST_WHOLE}, got {show(value)}")
        return value

    def mpn(self, key: str, *, required: bool) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"{self.name(key)} is required")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**64:
            value = str(value)
        if not isinstance(value, str) or not MPN_ID.match(value.strip()):
            self.fail(f"{self.name(key)} must be letters and digits (an MPN ID), got {show(value)}")
        return value.strip()

    def code(self, key: str, vocabulary: tuple[str, ...], noun: str, default: str | None) -> str:
        value = self.data.get(key)
        if value is None:
            if default is not None:
                return default
            self.fail(f"{self.name(key)} is required")
        return self.check_code(value, self.name(key), vocabulary, noun)

    def check_code(self, value: object, name: str, vocabulary: tuple[str, ...], noun: str) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {kind_of(value)}")
        code = value.strip().lower()
        if code not in vocabulary:
            self.fail(f"unknown {noun} {show(value)} in {name} (allowed: {', '.join(vocabulary)})")
        return code

    def country(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            self.fail(f"{self.name(key)} is required")
        return self.check_country(value, self.name(key))

    def check_country(self, value: object, name: str) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {kind_of(value)}")
        code = value.strip().upper()
        if code not in COUNTRY_CODES:
            hint = "did you mean 'GB'?" if code == "UK" else "use ISO 3166-1 codes like US, DE, GB"
            self.fail(f"unknown country {show(value)} in {name} ({hint})")
        return code

    def language(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            self.fail(f"{self.name(key)} is required")
        return self.check_language(value, self.name(key))

    def check_language(self, value: object, name: str) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {kind_of(value)}")
        code = value.strip().lower()
        if code not in LANGUAGE_CODES:
            self.fail(
                f"unknown language {show(value)} in {name} (use ISO 639-1 codes like en, de, ja)"
            )
        return code

    def locale(self, key: str, default: str) -> str:
        """One of the program's locales (`de`, `pt-BR`, ...); `default` when absent or null."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(f"{self.name(key)} must be a string, got {kind_of(value)}")
        found = parse_locale(value)
        if found is None:
            self.fail(
                f"unknown locale {show(value)} in {self.name(key)} (allowed: {' '.join(LOCALES)})"
            )
        return found

    def timezone(self, key: str, default: str) -> str:
        value = self.data.get(key, _UNSET)
        if value is _UNSET:
            return default
        if not isinstance(value, str):
            self.fail(f"{self.name(key)} must be a string, got {kind_of(value)}")
        if value.strip() not in timezones():
            self.fail(
                f"unknown time zone {show(value)} in {self.name(key)} "
                "(use an IANA name like Europe/Berlin)"
            )
        return value.strip()

    def day(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.fail(f"{self.name(key)} must be a date YYYY-MM-DD or null, got {show(value)}")

    # -- lists ---------------------------------------------------------------------------

    def items(self, key: str, *, required: bool = False) -> list[object]:
        value = self.data.get(key, _UNSET)
        if value is _UNSET:
            if required:
                self.fail(f"{self.name(key)} is required")
            return []
        if not isinstance(value, list):
            self.fail(f"{self.name(key)} must be a list, got {kind_of(value)}")
        if required and not value:
            self.fail(f"{self.name(key)} must not be empty")
        return value

    def unique(self, key: str, values: list[str]) -> list[str]:
        seen: set[str] = set()
        for value in values:
            if value.lower() in seen:
                self.fail(f"{self.name(key)} lists {value!r} twice")
            seen.add(value.lower())
        return values

    def codes(
        self, key: str, vocabulary: tuple[str, ...], noun: str, *, required: bool = False
    ) -> list[str]:
        items = self.items(key, required=required)
        return self.unique(
            key, [self.check_code(v, self.name(key), vocabulary, noun) for v in items]
        )

    def countries(self, key: str) -> list[str]:
        items = self.items(key)
        return self.unique(key, [self.check_country(v, self.name(key)) for v in items])

    def languages(self, key: str) -> list[str]:
        items = self.items(key)
        return self.unique(key, [self.check_language(v, self.name(key)) for v in items])

    def emails(self, key: str) -> list[str]:
        result: list[str] = []
        for value in self.items(key):
            if not isinstance(value, str):
                self.fail(f"{self.name(key)} must hold email strings, got {kind_of(value)}")
            self.check_email(value.strip(), self.name(key))
            result.append(value.strip())
        return self.unique(key, result)
