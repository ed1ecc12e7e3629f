"""Configuration: every variable read, secrets hidden, one-line errors, the demo's defaults
refused elsewhere, `.env`, Temporal profiles and TLS, and docs/configuration.md kept current."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.service import TLSConfig

from runtime.temporal import connect_config
from settings import Settings, SettingsError, variables
from settings.doc import markdown

ROOT = Path(__file__).resolve().parent.parent
DEMO = {"FASTTRACK_ENV": "demo"}
PRODUCTION = {
    "DATABASE_URL": "postgresql+asyncpg://app@db.internal/fasttrack",
    "LINK_SECRET": "a-long-random-link-secret",
    "PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
}
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_every_variable_is_read_including_timeouts_threads_and_pool_sizes() -> None:
    s = Settings.from_env(
        {
            **PRODUCTION,
            "SMTP_TIMEOUT": "30s",
            "ACTIVITY_THREADS": "16",
            "DB_POOL_SIZE": "20",
            "DB_MAX_OVERFLOW": "0",
            "SLA_OVERRIDE": "5m",
            "PORTAL_URL": "https://partners.example/",
            "SMTP_STARTTLS": "yes",
            "TEMPORAL_TASK_QUEUE": "q2",
        }
    )
    assert (s.smtp_timeout, s.activity_threads, s.db_pool_size, s.db_max_overflow) == (
        30.0,
        16,
        20,
        0,
    )
    assert s.sla_override == timedelta(minutes=5)
    assert s.portal_url == "https://partners.example"
    assert s.smtp_starttls and s.task_queue == "q2" and s.environment == "production"
    names = [var.name for _, var, _ in variables()]
    assert len(names) == len(set(names)) == len(variables())


def test_secrets_never_appear_in_a_repr() -> None:
    s = Settings.from_env(
        {
            **PRODUCTION,
            "SMTP_PASSWORD": "hunter2",
            "PORTAL_ADMIN_TOKEN": "ops-token",
            "TEMPORAL_API_KEY": "cloud-key",
        }
    )
    text = repr(s) + str(s)
    for secret in ("hunter2", "ops-token", "cloud-key", "a-long-random", "AAAA"):
        assert secret not in text
    assert s.smtp_password is not None and s.smtp_password.get_secret_value() == "hunter2"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SMTP_PORT": "abc"}, "SMTP_PORT"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT"),
        ({"SLA_BUSINESS_DAYS": "0"}, "SLA_BUSINESS_DAYS"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
        ({"SMTP_TIMEOUT": "-1"}, "SMTP_TIMEOUT"),
        ({"SLA_OVERRIDE": "soon"}, "SLA_OVERRIDE"),
        ({"FASTTRACK_ENV": "staging"}, "FASTTRACK_ENV"),
        ({"ACTIVITY_THREADS": "0"}, "ACTIVITY_THREADS"),
    ],
)
def test_a_bad_value_is_one_line_naming_its_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**DEMO, **env})
    message = str(info.value)
    assert message.startswith(f"{names}: ") and "\n" not in message


def test_a_bad_secret_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**DEMO, "TEMPORAL_TLS": "perhaps", "LINK_SECRET": "s3cr3t"})
    assert "s3cr3t" not in str(info.value)


def test_outside_the_demo_the_embedded_defaults_are_refused_with_the_variables_to_set() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({})
    message = str(info.value)
    assert message.startswith("set DATABASE_URL, LINK_SECRET, PAYLOAD_KEYS:")
    assert "FASTTRACK_ENV=demo" in message and "\n" not in message
    with pytest.raises(SettingsError, match=r"^set LINK_SECRET:"):
        Settings.from_env({**PRODUCTION, "LINK_SECRET": ""})
    own_file = {**PRODUCTION, "PAYLOAD_KEYS": "", "PAYLOAD_KEY_FILE": "/etc/fasttrack/keys.json"}
    assert Settings.from_env(own_file).payload_key_file == Path("/etc/fasttrack/keys.json")


def test_insecure_webhooks_are_refused_outside_the_demo() -> None:
    with pytest.raises(SettingsError, match=r"^WEBHOOK_ALLOW_INSECURE serves only the demo"):
        Settings.from_env({**PRODUCTION, "WEBHOOK_ALLOW_INSECURE": "1"})
    assert not Settings.from_env(PRODUCTION).webhook_allow_insecure
    assert Settings.from_env({**DEMO, "WEBHOOK_ALLOW_INSECURE": "1"}).webhook_allow_insecure
    assert Settings.from_env({**PRODUCTION, "WEBHOOK_GIVE_UP": "2h"}).webhook_give_up == timedelta(
        hours=2
    )


def test_single_sign_on_settings_are_read_and_checked() -> None:
    sso = {
        **PRODUCTION,
        "OIDC_ISSUER": "https://login.company.example/tenant/",
        "OIDC_CLIENT_ID": "fasttrack-portal",
        "OIDC_CLIENT_SECRET": "oidc-s3cret",
        "OIDC_OPERATOR_CLAIM": "groups=fasttrack-ops",
    }
    s = Settings.from_env(sso)
    assert s.oidc_enabled and s.oidc_issuer == "https://login.company.example/tenant"
    assert (
        s.oidc_client_id == "fasttrack-portal" and s.oidc_operator_claim == "groups=fasttrack-ops"
    )
    assert s.oidc_client_secret is not None and "oidc-s3cret" not in repr(s)
    assert not Settings.from_env(PRODUCTION).oidc_enabled
    for env, message in [
        ({"OIDC_CLIENT_ID": ""}, "set OIDC_ISSUER and OIDC_CLIENT_ID together"),
        ({"OIDC_ISSUER": "http://login.company.example"}, "OIDC_ISSUER must be an https://"),
        ({"OIDC_OPERATOR_CLAIM": "groups"}, "OIDC_OPERATOR_CLAIM must look like claim=value"),
    ]:
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({**sso, **env})
    # The demo (and the tests' provider) may use a plain-http issuer.
    assert Settings.from_env({**sso, **DEMO, "OIDC_ISSUER": "http://127.0.0.1:9"}).oidc_enabled


def test_the_demo_and_dev_mode_accept_the_embedded_defaults() -> None:
    assert Settings.from_env(DEMO).demo
    dev = Settings.from_env({}, demo=True)
    assert dev.demo and dev.database_url.endswith("var/fasttrack.db")
    assert Settings().demo  # built directly (tests, tools): the demo's defaults


def test_a_generated_payload_key_is_refused_outside_the_demo(tmp_path: Path) -> None:
    from runtime.codec import PayloadKeyError, keyring_for

    settings = replace(Settings(), environment="production", payload_key_file=tmp_path / "k")
    with pytest.raises(PayloadKeyError, match="no payload key"):
        keyring_for(settings)
    assert keyring_for(replace(settings, environment="demo")).active == "k1"
    assert keyring_for(settings).active == "k1"  # the file now exists: read, not generated


def test_an_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "FASTTRACK_ENV=demo\nSMTP_HOST=mail.internal\nSMTP_PORT=2525\n# a comment\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMTP_PORT", "587")
    s = Settings.from_env()
    assert (s.smtp_host, s.smtp_port, s.demo) == ("mail.internal", 587, True)


def test_contract_aliases_and_the_temporal_cli_names_are_both_accepted() -> None:
    a = Settings.from_env({**DEMO, "TEMPORAL_TLS_CERT": "/c.pem", "TEMPORAL_TLS_KEY": "/k.pem"})
    b = Settings.from_env(
        {
            **DEMO,
            "TEMPORAL_TLS_CLIENT_CERT_PATH": "/c.pem",
            "TEMPORAL_TLS_CLIENT_KEY_PATH": "/k.pem",
        }
    )
    assert (a.temporal_tls_cert, a.temporal_tls_key) == (b.temporal_tls_cert, b.temporal_tls_key)


def test_a_temporal_profile_fills_what_the_environment_leaves_unset(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        '[profile.cloud]\naddress = "ns1.acct.tmprl.cloud:7233"\nnamespace = "ns1.acct"\n'
        'api_key = "profile-key"\n[profile.cloud.tls]\nserver_name = "ns1.acct.tmprl.cloud"\n'
    )
    env = {**DEMO, "TEMPORAL_PROFILE": "cloud", "TEMPORAL_CONFIG_FILE": str(config)}
    s = Settings.from_env(env)
    assert (s.temporal_address, s.temporal_namespace) == ("ns1.acct.tmprl.cloud:7233", "ns1.acct")
    assert s.temporal_api_key == SecretStr("profile-key")
    cfg = connect_config(s)
    assert cfg["target_host"] == "ns1.acct.tmprl.cloud:7233" and cfg["api_key"] == "profile-key"
    tls = cfg["tls"]
    assert isinstance(tls, TLSConfig) and tls.domain == "ns1.acct.tmprl.cloud"
    assert Settings.from_env({**env, "TEMPORAL_NAMESPACE": "other"}).temporal_namespace == "other"
    with pytest.raises(SettingsError, match="cannot load Temporal profile 'nope'") as info:
        Settings.from_env({**env, "TEMPORAL_PROFILE": "nope"})
    assert "\n" not in str(info.value)


def test_tls_follows_the_temporal_cli_rules(tmp_path: Path) -> None:
    base = Settings()
    assert "tls" not in connect_config(base)
    assert connect_config(replace(base, temporal_api_key=SecretStr("k")))["tls"] is True
    off = replace(base, temporal_api_key=SecretStr("k"), temporal_tls=False)
    assert connect_config(off)["tls"] is False
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    mtls = replace(base, temporal_tls_ca=str(ca), temporal_tls_cert=PEM, temporal_tls_key=PEM)
    tls = connect_config(mtls)["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == PEM.encode() and tls.client_cert == PEM.encode()
    with pytest.raises(SettingsError, match=r"^TEMPORAL_TLS_CA: no such file"):
        connect_config(replace(base, temporal_tls_ca=str(tmp_path / "missing.pem")))


def test_the_worker_refuses_the_demo_defaults_at_start_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTTRACK_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=tmp_path,  # no .env there
        env={**env, "LINK_SECRET": "x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("worker: set DATABASE_URL, PAYLOAD_KEYS:")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_the_configuration_table_in_docs_is_current() -> None:
    document = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert document == markdown(), (
        "docs/configuration.md is stale: python -m settings --markdown > docs/configuration.md"
    )


def test_alembic_without_configuration_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTTRACK_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "db/alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("alembic: set DATABASE_URL, ")
    assert "Traceback" not in result.stderr
