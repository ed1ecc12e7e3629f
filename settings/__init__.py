"""One settings object, read once from the environment and an optional `.env` file.

Every variable is declared here, once: `python -m settings --markdown` prints
docs/configuration.md (settings/doc.py). Embedded defaults serve the demo only (`DEMO_ONLY`).
The file is long because each variable's declaration (type, name, section, meaning) is one
field of one class; the helpers live in the package's other modules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
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
from settings.link_secret import link_secret_from_file
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

from domain.locales import LOCALES, parse_locale

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


def _program_locale(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    found = parse_locale(value)
    if found is None:
        raise ValueError(f"must be one of {' '.join(LOCALES)}")
    return found


def _addresses(value: Any) -> Any:
    """`a@x, B@y` -> ("a@x", "b@y")."""
    if isinstance(value, str):
        return tuple(a.strip().lower() for a in value.split(",") if a.strip())
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Seconds = Annotated[float, Field(gt=0), BeforeValidator(_seconds)]
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0, le=1)]
T, D, M, P, S, W = "Temporal", "Database", "Email", "Portal", "SLA", "Worker"
R = "Ranking"
K = "Payload encryption"
L = "Logging"
INTEGRATIONS = "Integrations"


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
    program_locale: Annotated[
        str,
        BeforeValidator(_program_locale),
        Var(
            "PROGRAM_LOCALE",
            M,
            "language of the account-team and operations emails, and operators' first "
            "portal language (`en de fr es it nl pt-BR ja ko zh-Hans`)",
        ),
    ] = "en"
    program_currency: Annotated[
        str,
        Field(pattern=r"^[A-Z]{3}$"),
        Var("PROGRAM_CURRENCY", M, "ISO 4217 currency of value-added-services figures"),
    ] = "USD"
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
    portal_trusted_proxies: Annotated[
        str,
        Var(
            "PORTAL_TRUSTED_PROXIES",
            P,
            "comma-separated addresses of the TLS proxies whose `X-Forwarded-Proto` and "
            "`X-Forwarded-For` the portal believes (`*`: any)",
        ),
    ] = "127.0.0.1"
    portal_metrics_token: Annotated[
        SecretStr | None,
        Var(
            "PORTAL_METRICS_TOKEN",
            P,
            "bearer token a Prometheus scraper sends to the portal's `/metrics`",
            default_doc="unset: no `/metrics`",
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
            "signs the action links in emails and the portal's forms (a key derived for each "
            "use); the same for every worker and portal",
            default_doc="unset: the link secret file",
        ),
    ] = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    link_secret_file: Annotated[
        Path,
        Var(
            "LINK_SECRET_FILE",
            P,
            "file holding the link secret when LINK_SECRET is unset; generated only in the demo",
            default_doc="`var/link-secret`",
        ),
    ] = VAR_DIR / "link-secret"
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
    ranking: Annotated[
        Literal["track_record", "rotation"],
        Var(
            "RANKING",
            R,
            "`track_record`: eligible partners ranked by their score, in bands, rotation inside "
            "a band; `rotation`: fewest open referrals, least recently assigned, MPN ID",
        ),
    ] = "track_record"
    ranking_window: Annotated[
        Duration,
        Var("RANKING_WINDOW", R, "trailing window of the track record", default_doc="`365d`"),
    ] = timedelta(days=365)
    ranking_band: Annotated[
        float,
        Field(gt=0, le=1),
        Var("RANKING_BAND", R, "width of a score band; partners in one band share the work"),
    ] = 0.05
    ranking_floor: Annotated[
        Share,
        Var(
            "RANKING_FLOOR",
            R,
            "score below which a partner (after 10 judged offers) is ranked last and flagged "
            "'needs attention'",
        ),
    ] = 0.3
    ranking_prior_weight: Annotated[
        float,
        Field(gt=0),
        Var(
            "RANKING_PRIOR_WEIGHT",
            R,
            "weight of the program's average in a score, in offers (Beta prior)",
        ),
    ] = 16.0
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
    oidc_issuer: Annotated[
        str | None,
        BeforeValidator(_no_trailing_slash),
        Var(
            "OIDC_ISSUER",
            P,
            "OpenID Connect issuer URL for operators' single sign-on (its "
            "`/.well-known/openid-configuration` is read); unset: emailed links only",
        ),
    ] = None
    oidc_client_id: Annotated[
        str | None, Var("OIDC_CLIENT_ID", P, "the portal's client id at that issuer")
    ] = None
    oidc_client_secret: Annotated[
        SecretStr | None, Var("OIDC_CLIENT_SECRET", P, "its client secret")
    ] = None
    oidc_operator_claim: Annotated[
        str | None,
        Var(
            "OIDC_OPERATOR_CLAIM",
            P,
            "`claim=value` an ID token must carry to be an operator (e.g. `groups=fasttrack-ops`;"
            " a list claim must contain the value); unset: the verified email must be in "
            "OPERATOR_EMAILS",
        ),
    ] = None
    webhook_allow_insecure: Annotated[
        bool,
        Var(
            "WEBHOOK_ALLOW_INSECURE",
            INTEGRATIONS,
            "`1` allows http webhook URLs and loopback / private addresses: demo and tests "
            "only (refused outside demo mode)",
        ),
    ] = False
    webhook_give_up: Annotated[
        Duration,
        Var(
            "WEBHOOK_GIVE_UP",
            INTEGRATIONS,
            "how long a webhook event is retried (exponential backoff) before its "
            "subscription is disabled and the partner and operations are emailed",
            default_doc="`24h`",
        ),
    ] = timedelta(hours=24)

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
        given = set(values)
        try:
            settings = cls(**values)
        except ValidationError as err:
            raise SettingsError(_first_error(err)) from None
        settings = settings.in_home()
        if "link_secret" not in given and (settings.demo or "link_secret_file" in given):
            secret = link_secret_from_file(settings.link_secret_file, create=settings.demo)
            if secret is not None:
                settings = dataclasses.replace(settings, link_secret=secret)
                given.add("link_secret")
        settings.check_oidc()
        if not settings.demo:
            settings.refuse_embedded_defaults(given)
            if settings.oidc_issuer and not settings.oidc_issuer.startswith("https://"):
                raise SettingsError("OIDC_ISSUER must be an https:// URL")
            if settings.webhook_allow_insecure:
                raise SettingsError(
                    "WEBHOOK_ALLOW_INSECURE serves only the demo and tests: "
                    "unset it (or set FASTTRACK_ENV=demo)"
                )
        return settings

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
        secret_file = self.link_secret_file
        if secret_file == VAR_DIR / "link-secret":
            secret_file = var / "link-secret"
        return replace(
            self, database_url=database_url, payload_key_file=key_file, link_secret_file=secret_file
        )

    @property
    def var_dir(self) -> Path:
        """The home's `var/`: the demo's database, payload key, dev server state and mail."""
        return self.home / "var"

    @property
    def data_dir(self) -> Path:
        """The home's `data/`: the demo's sample partners, referrals and claims."""
        return self.home / "data"

    def check_oidc(self) -> None:
        """Single sign-on needs the issuer and the client id together; the claim is
        `name=value`."""
        if bool(self.oidc_issuer) != bool(self.oidc_client_id):
            raise SettingsError("set OIDC_ISSUER and OIDC_CLIENT_ID together (or neither)")
        claim = self.oidc_operator_claim
        if claim is not None and not re.fullmatch(r"[^=\s]+=[^=]+", claim):
            raise SettingsError("OIDC_OPERATOR_CLAIM must look like claim=value")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

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
    "LINK_SECRET": "generated link secret",
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
