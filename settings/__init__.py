"""One settings object, read once from the environment and an optional `.env` file.

Every variable is declared here, once: `python -m settings --markdown` prints
docs/configuration.md (settings/doc.py). Embedded defaults serve the demo only (`DEMO_ONLY`).
"""

from __future__ import annotations

import functools
import re
import typing
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_settings import BaseSettings, SettingsConfigDict

from settings.errors import SettingsError, first_line
from settings.home import (
    DATA_DIR,
    DEFAULT_DATABASE_URL,
    DEMO_MARKER,
    ENV_FILE,
    HOME,
    VAR_DIR,
    database_url_in,
    demo_marker,
    fasttrack_home,
    mark_demo,
)
from settings.profile import apply_profile

__all__ = [
    "DATA_DIR",
    "HOME",
    "VAR_DIR",
    "Settings",
    "SettingsError",
    "apply_profile",
    "fasttrack_home",
    "first_line",
    "mark_demo",
    "parse_duration",
    "variables",
]

BUILTIN_LINK_SECRET = "dev-only-link-secret-change-me"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `1.5h`, `2d`, `250ms`, or bare seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise SettingsError(f"not a positive duration: {text!r} (use e.g. 30s, 5m, 2h)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class Var:
    """Field metadata: the environment variable (and accepted aliases), its group and meaning."""

    name: str
    group: str
    doc: str
    aliases: tuple[str, ...] = ()
    default_doc: str | None = None  # shown instead of the default value


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _seconds(value: Any) -> Any:
    return parse_duration(value).total_seconds() if isinstance(value, str) else value


def _no_trailing_slash(value: Any) -> Any:
    return value.rstrip("/") if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _addresses(value: Any) -> Any:
    """`a@x, B@y` -> ("a@x", "b@y")."""
    if isinstance(value, str):
        return tuple(a.strip().lower() for a in value.split(",") if a.strip())
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Seconds = Annotated[float, Field(gt=0), BeforeValidator(_seconds)]
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=1)]
T, D, M, P, S, W = "Temporal", "Database", "Email", "Portal", "SLA", "Worker"
K = "Payload encryption"
L = "Logging"


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Settings:
    """The configuration of one process. `Settings()` holds the demo's defaults (tests,
    tools); processes use `Settings.from_env()`, which is `production` unless told otherwise.
    A frozen pydantic dataclass: validated, and `dataclasses.replace` still derives variants."""

    environment: Annotated[
        Literal["production", "demo"],
        Var(
            "FASTTRACK_ENV",
            W,
            "`demo` accepts the embedded defaults (see above); "
            "`make demo` and `worker.py --dev` set it themselves",
            default_doc="`production`",
        ),
    ] = "demo"  # built directly (tests, tools) a Settings holds the demo's defaults
    home: Annotated[
        Path,
        Var(
            "FASTTRACK_HOME",
            W,
            "folder holding `var/` (the demo's database, payload key, dev server state and "
            "mail) and `data/` (the demo's sample data)",
            default_doc="the working directory",
        ),
    ] = HOME
    temporal_address: Annotated[
        str, Var("TEMPORAL_ADDRESS", T, "frontend `host:port` (dev server, cluster or Cloud)")
    ] = "localhost:7233"
    temporal_namespace: Annotated[str, Var("TEMPORAL_NAMESPACE", T, "namespace")] = "default"
    task_queue: Annotated[
        str, Var("TEMPORAL_TASK_QUEUE", T, "task queue the worker polls and clients start on")
    ] = "fasttrack-referrals"
    temporal_profile: Annotated[
        str | None,
        Var(
            "TEMPORAL_PROFILE",
            T,
            "profile of the `temporal` CLI's config file to connect with; "
            "the variables above and below override its values",
        ),
    ] = None
    temporal_config_file: Annotated[
        Path | None,
        Var(
            "TEMPORAL_CONFIG_FILE",
            T,
            "that config file",
            default_doc="the `temporal` CLI's (Linux: `~/.config/temporalio/temporal.toml`)",
        ),
    ] = None
    temporal_api_key: Annotated[
        SecretStr | None, Var("TEMPORAL_API_KEY", T, "API key (Temporal Cloud); turns TLS on")
    ] = None
    temporal_tls: Annotated[
        bool | None,
        Var(
            "TEMPORAL_TLS",
            T,
            "`true`/`false` forces TLS on/off",
            default_doc="on with an API key or any TLS setting",
        ),
    ] = None
    temporal_tls_ca: Annotated[
        str | None,
        Var(
            "TEMPORAL_TLS_CA",
            T,
            "server CA certificate: a file path or the PEM text",
            ("TEMPORAL_TLS_SERVER_CA_CERT_PATH",),
            "system roots",
        ),
    ] = None
    temporal_tls_server_name: Annotated[
        str | None, Var("TEMPORAL_TLS_SERVER_NAME", T, "server name expected in its certificate")
    ] = None
    temporal_tls_cert: Annotated[
        str | None,
        Var(
            "TEMPORAL_TLS_CERT",
            T,
            "client certificate for mTLS: a file path or the PEM text",
            ("TEMPORAL_TLS_CLIENT_CERT_PATH",),
        ),
    ] = None
    temporal_tls_key: Annotated[
        str | None,
        Var(
            "TEMPORAL_TLS_KEY",
            T,
            "its private key: a file path or the PEM text",
            ("TEMPORAL_TLS_CLIENT_KEY_PATH",),
        ),
    ] = None
    database_url: Annotated[
        str,
        Var(
            "DATABASE_URL",
            D,
            "SQLAlchemy URL: `postgresql+asyncpg://user:pw@host/db` in "
            "production (`?search_path=SCHEMA` allowed)",
            default_doc="demo: `var/fasttrack.db`",
        ),
    ] = DEFAULT_DATABASE_URL
    db_pool_size: Annotated[
        Count, Var("DB_POOL_SIZE", D, "connections each process keeps open")
    ] = 5
    db_max_overflow: Annotated[
        int, Field(ge=0), Var("DB_MAX_OVERFLOW", D, "extra connections allowed at peaks")
    ] = 10
    smtp_host: Annotated[str, Var("SMTP_HOST", M, "outgoing mail server")] = "localhost"
    smtp_port: Annotated[Port, Var("SMTP_PORT", M, "its port")] = 1025
    smtp_username: Annotated[str | None, Var("SMTP_USERNAME", M, "login, if it needs one")] = None
    smtp_password: Annotated[SecretStr | None, Var("SMTP_PASSWORD", M, "password")] = None
    smtp_starttls: Annotated[bool, Var("SMTP_STARTTLS", M, "upgrade to TLS (STARTTLS)")] = False
    smtp_timeout: Annotated[
        Seconds, Var("SMTP_TIMEOUT", M, "per SMTP exchange, seconds or a duration (`30s`)")
    ] = 10.0
    mail_from: Annotated[str, Var("MAIL_FROM", M, "sender of every message")] = (
        "FastTrack Referrals <referrals@fasttrack.localhost>"
    )
    ops_email: Annotated[
        str, Var("OPS_EMAIL", M, "where escalations, delivery failures and reports go")
    ] = "ops@localhost"
    portal_url: Annotated[
        str,
        BeforeValidator(_no_trailing_slash),
        Var("PORTAL_URL", P, "base of the links written into emails"),
    ] = "http://localhost:8000"
    portal_host: Annotated[str, Var("PORTAL_HOST", P, "where `python -m portal` listens")] = (
        "127.0.0.1"
    )
    portal_port: Annotated[Port, Var("PORTAL_PORT", P, "its port")] = 8000
    portal_admin_token: Annotated[
        SecretStr | None,
        Var(
            "PORTAL_ADMIN_TOKEN",
            P,
            "bearer token for operators' endpoints and the codec server",
            default_doc="unset: admin API off",
        ),
    ] = None
    operator_emails: Annotated[
        tuple[str, ...],
        BeforeValidator(_addresses),
        Var(
            "OPERATOR_EMAILS",
            P,
            "comma-separated addresses that may sign in to the portal's operator pages",
        ),
    ] = ()
    link_secret: Annotated[
        SecretStr,
        Var(
            "LINK_SECRET",
            P,
            "signs the action links in emails; the same for every worker and portal",
            default_doc="demo: a built-in public value",
        ),
    ] = SecretStr(BUILTIN_LINK_SECRET)
    sla_business_days: Annotated[
        Count, Var("SLA_BUSINESS_DAYS", S, "response window, in the partner's business days")
    ] = 2
    sla_override: Annotated[
        Duration | None,
        Var(
            "SLA_OVERRIDE",
            S,
            "a duration (`30s`, `5m`) replacing every business-day window: "
            "demos and acceptance runs only",
        ),
    ] = None
    payload_keys: Annotated[
        SecretStr | None,
        Var(
            "PAYLOAD_KEYS",
            K,
            "`k2:<base64>,k1:<base64>` (first encrypts, all decrypt); the same for every process",
            default_doc="unset: the key file",
        ),
    ] = None
    payload_key_file: Annotated[
        Path,
        Var(
            "PAYLOAD_KEY_FILE",
            K,
            "key file when PAYLOAD_KEYS is unset; generated only in the demo",
            default_doc="`var/payload-keys.json`",
        ),
    ] = VAR_DIR / "payload-keys.json"
    codec_port: Annotated[
        Port, Var("CODEC_PORT", K, "port of the codec server that decrypts for the Web UI")
    ] = 8234
    ui_origin: Annotated[
        str, Var("TEMPORAL_UI_ORIGIN", K, "Web UI origin the codec server admits (CORS)")
    ] = "http://localhost:8233"
    activity_threads: Annotated[
        Count, Var("ACTIVITY_THREADS", W, "threads running the worker's synchronous activities")
    ] = 4
    metrics_port: Annotated[
        str | None,
        Var(
            "METRICS_PORT",
            W,
            "worker's Prometheus endpoint port; `0` or `off` disables it",
            default_doc="`9464`",
        ),
    ] = None
    health_port: Annotated[
        str | None,
        Var("HEALTH_PORT", W, "worker's `/healthz` and `/readyz` port; unset, `0` or `off`: none"),
    ] = None
    otel_endpoint: Annotated[
        str | None,
        Var(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            W,
            "OTLP/HTTP collector: when set, clients, workers and activities are traced "
            "(the other standard `OTEL_*` variables apply)",
        ),
    ] = None
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None,
        BeforeValidator(_upper),
        Var(
            "LOG_LEVEL",
            L,
            "`DEBUG`, `INFO`, `WARNING` or `ERROR`, for the worker and the portal",
            default_doc="worker `WARNING`, portal `INFO`",
        ),
    ] = None
    log_format: Annotated[
        Literal["text", "json"],
        BeforeValidator(_lower),
        Var("LOG_FORMAT", L, "`text` (one readable line) or `json` (one object per line)"),
    ] = "text"

    @property
    def demo(self) -> bool:
        """The embedded defaults are accepted (FASTTRACK_ENV=demo, `make demo`, `--dev`)."""
        return self.environment == "demo"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, *, demo: bool = False) -> Settings:
        """The process environment (and `.env`), or exactly `environ`. `demo` (or
        FASTTRACK_ENV=demo, or a demo run in this FASTTRACK_HOME) accepts the embedded defaults;
        otherwise they are refused."""
        if environ is None:
            raw = _reader()().model_dump()
        else:
            raw = {
                name: next((environ[n] for n in (var.name, *var.aliases) if n in environ), None)
                for name, var, _ in variables()
            }
        values = {k: v for k, v in raw.items() if v not in (None, "")}
        home = Path(values["home"]).expanduser().resolve() if "home" in values else HOME
        values["home"] = home
        marker = DEMO_MARKER if home == HOME else demo_marker(home)
        beside_demo = environ is None and "environment" not in values and marker.exists()
        values.setdefault("environment", "production")
        if demo or beside_demo:
            values["environment"] = "demo"
        values = apply_profile(values)
        try:
            settings = cls(**values)
        except ValidationError as err:
            raise SettingsError(_first_error(err)) from None
        if not settings.demo:
            settings.refuse_embedded_defaults(set(values))
        return settings.in_home()

    def in_home(self) -> Settings:
        """The demo's files under this home when they were left to their defaults."""
        if self.home == HOME:
            return self
        var = self.home / "var"
        database_url = self.database_url
        if database_url == DEFAULT_DATABASE_URL:
            database_url = database_url_in(self.home)
        key_file = self.payload_key_file
        if key_file == VAR_DIR / "payload-keys.json":
            key_file = var / "payload-keys.json"
        return replace(self, database_url=database_url, payload_key_file=key_file)

    @property
    def var_dir(self) -> Path:
        """The home's `var/`: the demo's database, payload key, dev server state and mail."""
        return self.home / "var"

    @property
    def data_dir(self) -> Path:
        """The home's `data/`: the demo's sample partners, referrals and claims."""
        return self.home / "data"

    def refuse_embedded_defaults(self, given: set[str]) -> None:
        """Outside the demo, the defaults in `DEMO_ONLY` must be replaced."""
        missing = [var for name, var in DEMO_ONLY.items() if not given & {name, *_also(name)}]
        if missing:
            raise SettingsError(
                f"set {', '.join(missing)}: the built-in "
                f"{' / '.join(_DEMO_ONLY_WHAT[v] for v in missing)} serve only `make demo` and "
                "`python worker.py --dev` (or set FASTTRACK_ENV=demo to use them anyway)"
            )


# Defaults refused outside the demo: field -> the variable to set.
DEMO_ONLY = {
    "database_url": "DATABASE_URL",
    "link_secret": "LINK_SECRET",
    "payload_keys": "PAYLOAD_KEYS",
}
_DEMO_ONLY_WHAT = {
    "DATABASE_URL": "SQLite file",
    "LINK_SECRET": "link secret",
    "PAYLOAD_KEYS": "generated payload key",
}


def _also(name: str) -> tuple[str, ...]:
    """Fields that satisfy `name` too: a deployment's own key file stands for PAYLOAD_KEYS."""
    return ("payload_key_file",) if name == "payload_keys" else ()


def variables() -> list[tuple[str, Var, Any]]:
    """(field name, its variable, its default) of every setting, in declaration order."""
    hints = typing.get_type_hints(Settings, include_extras=True)
    return [
        (f.name, next(m for m in hints[f.name].__metadata__ if isinstance(m, Var)), f.default)
        for f in fields(Settings)
    ]


class _Reader(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_ignore_empty=True, extra="ignore", case_sensitive=True
    )


@functools.cache
def _reader() -> type[BaseSettings]:
    """A `BaseSettings` with one optional text field per variable (aliases accepted): it reads
    the environment and `.env`; `Settings` then validates the values."""
    spec: dict[str, Any] = {
        name: (str | None, Field(None, validation_alias=AliasChoices(var.name, *var.aliases)))
        for name, var, _ in variables()
    }
    return create_model("EnvironmentReader", __base__=_Reader, **spec)


def _first_error(err: ValidationError) -> str:
    """`VARIABLE: what is wrong (got 'value')`, one line."""
    first = err.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    var = next((v.name for n, v, _ in variables() if n == name), name)
    message = str(first["msg"]).replace("Value error, ", "").splitlines()[0]
    got = first.get("input")
    hidden = isinstance(got, SecretStr) or name in _SECRETS or repr(got) in message
    shown = "" if hidden else f" (got {str(got)[:60]!r})"
    return f"{var}: {message}{shown}"


_SECRETS = {"temporal_api_key", "smtp_password", "portal_admin_token", "link_secret"}
_SECRETS |= {"payload_keys"}
