"""`worker.py --dev` and `make demo` wire the dev server's Web UI to the codec server, which
decrypts the payloads for it (real dev server, real codec server, free ports)."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from runtime.codec import EncryptionCodec, keyring_for
from runtime.codec_server import codec_in_background
from runtime.temporal import start_dev_server
from settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration


async def test_the_dev_web_ui_is_told_where_the_codec_server_decrypts(tmp_path: Path) -> None:
    ui_port = free_port()
    settings = replace(
        Settings(),
        temporal_address=f"127.0.0.1:{free_port()}",
        codec_port=free_port(),
        payload_key_file=tmp_path / "keys.json",
        ui_origin=f"http://localhost:{ui_port}",
    )
    codec, codec_at = codec_in_background(settings)
    env = await start_dev_server(
        settings, tmp_path / "temporal.db", ui_port=ui_port, codec_endpoint=codec_at
    )
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            ui = (await http.get(f"http://127.0.0.1:{ui_port}/api/v1/settings")).json()
            assert ui["Codec"]["Endpoint"] == codec_at
            plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"Fabrikam"')
            [sealed] = await EncryptionCodec(keyring_for(settings)).encode([plain])
            body = {
                "payloads": [
                    {
                        "metadata": {
                            k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()
                        },
                        "data": base64.b64encode(sealed.data).decode(),
                    }
                ]
            }
            answer = await http.post(
                f"{codec_at}/decode", json=body, headers={"Origin": settings.ui_origin}
            )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == settings.ui_origin
        assert base64.b64decode(answer.json()["payloads"][0]["data"]) == b'"Fabrikam"'
    finally:
        await env.shutdown()
        await codec.stop()
