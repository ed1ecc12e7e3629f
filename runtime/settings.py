"""One settings object, read once from the environment (see the contract's table)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{VAR_DIR / 'fasttrack.db'}"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class SettingsError(ValueError):
    """A configuration value is malformed (message is one line, for the user)."""


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `1.5h`, `2d`, `250ms`, or bare seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise SettingsError(f"not a positive duration: {text!r} (use e.g. 30s, 5m, 2h)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "fasttrack-referrals"
    temporal_api_key: str | None = None
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    database_url: str = field(default_factory=lambda: DEFAULT_DATABASE_URL)
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    mail_from: str = "FastTrack Referrals <referrals@fasttrack.localhost>"
    portal_url: str = "http://localhost:8000"
    sla_business_days: int = 2
    sla_override: timedelta | None = None
    ops_email: str = "ops@localhost"
    portal_host: str = "127.0.0.1"
    portal_port: int = 8000
    portal_admin_token: str | None = None
    link_secret: str = "dev-only-link-secret-change-me"
    payload_keys: str | None = None  # PAYLOAD_KEYS: "k2:<base64>,k1:<base64>" (first active)
    payload_key_file: Path = VAR_DIR / "payload-keys.json"
    codec_port: int = 8234
    ui_origin: str = "http://localhost:8233"
    operator_emails: tuple[str, ...] = ()  # OPERATOR_EMAILS: who may sign in to /ops pages

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        defaults = cls()
        override = env.get("SLA_OVERRIDE")
        days = _int(env, "SLA_BUSINESS_DAYS", 2)
        if days < 1:
            raise SettingsError(f"SLA_BUSINESS_DAYS must be at least 1, got {days}")
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS") or defaults.temporal_address,
            temporal_namespace=env.get("TEMPORAL_NAMESPACE") or defaults.temporal_namespace,
            task_queue=env.get("TEMPORAL_TASK_QUEUE") or defaults.task_queue,
            temporal_api_key=env.get("TEMPORAL_API_KEY") or None,
            temporal_tls_cert=env.get("TEMPORAL_TLS_CERT") or None,
            temporal_tls_key=env.get("TEMPORAL_TLS_KEY") or None,
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            smtp_host=env.get("SMTP_HOST") or defaults.smtp_host,
            smtp_port=_int(env, "SMTP_PORT", defaults.smtp_port),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=_bool(env.get("SMTP_STARTTLS")),
            mail_from=env.get("MAIL_FROM") or defaults.mail_from,
            portal_url=(env.get("PORTAL_URL") or defaults.portal_url).rstrip("/"),
            sla_business_days=days,
            sla_override=parse_duration(override) if override else None,
            ops_email=env.get("OPS_EMAIL") or defaults.ops_email,
            portal_host=env.get("PORTAL_HOST") or defaults.portal_host,
            portal_port=_int(env, "PORTAL_PORT", defaults.portal_port),
            portal_admin_token=env.get("PORTAL_ADMIN_TOKEN") or None,
            link_secret=env.get("LINK_SECRET") or defaults.link_secret,
            payload_keys=env.get("PAYLOAD_KEYS") or None,
            payload_key_file=Path(env["PAYLOAD_KEY_FILE"])
            if env.get("PAYLOAD_KEY_FILE")
            else defaults.payload_key_file,
            codec_port=_int(env, "CODEC_PORT", defaults.codec_port),
            ui_origin=env.get("TEMPORAL_UI_ORIGIN") or defaults.ui_origin,
            operator_emails=tuple(
                a.strip().lower() for a in env.get("OPERATOR_EMAILS", "").split(",") if a.strip()
            ),
        )
