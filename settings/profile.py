"""The `temporal` CLI's config file: with TEMPORAL_PROFILE or TEMPORAL_CONFIG_FILE, a profile's
connection values fill in what the environment leaves unset (through `temporalio.envconfig`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.envconfig import ClientConfigProfile, DataSource

from settings.errors import SettingsError, first_line


def apply_profile(values: dict[str, Any]) -> dict[str, Any]:
    """With TEMPORAL_PROFILE or TEMPORAL_CONFIG_FILE, the connection settings that `values`
    (the environment) leaves unset, taken from that profile of the `temporal` CLI's file."""
    name, file = values.get("temporal_profile"), values.get("temporal_config_file")
    if not name and not file:
        return values
    try:
        profile = ClientConfigProfile.load(
            name, config_source=Path(file).expanduser() if file else None, disable_env=True
        )
    except Exception as err:  # the core's message: unknown profile, unreadable or bad TOML
        where = f"profile {name!r}" if name else f"TEMPORAL_CONFIG_FILE {file}"
        raise SettingsError(f"cannot load Temporal {where}: {first_line(err)}") from None
    found: dict[str, Any] = {
        "temporal_address": profile.address,
        "temporal_namespace": profile.namespace,
        "temporal_api_key": profile.api_key,
    }
    if profile.tls is not None:
        found.update(
            temporal_tls="false" if profile.tls.disabled else "true",
            temporal_tls_server_name=profile.tls.server_name,
            temporal_tls_ca=_text(profile.tls.server_root_ca_cert),
            temporal_tls_cert=_text(profile.tls.client_cert),
            temporal_tls_key=_text(profile.tls.client_private_key),
        )
    return {**{k: v for k, v in found.items() if v is not None}, **values}


def _text(source: DataSource | None) -> str | None:
    if source is None:
        return None
    return source.decode() if isinstance(source, bytes) else str(source)
