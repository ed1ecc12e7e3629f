"""Payload encryption: round trip, key rotation, tampering, key files, and the codec server."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from runtime.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    KeyRing,
    PayloadKeyError,
    load_keyring,
)
from runtime.codec_server import create_codec_app
from settings import Settings
from tests.factories import referral


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_hides_the_plaintext() -> None:
    codec = EncryptionCodec(KeyRing.generate())
    [sealed] = await codec.encode([plain('{"name": "Fabrikam Ltd"}')])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"Fabrikam" not in sealed.SerializeToString()
    [back] = await codec.decode([sealed])
    assert back == plain('{"name": "Fabrikam Ltd"}')


async def test_rotation_new_key_encrypts_old_keys_still_decrypt() -> None:
    old = KeyRing.generate("k1")
    [sealed_old] = await EncryptionCodec(old).encode([plain("old")])
    new = old.rotated("k2")
    codec = EncryptionCodec(new)
    [sealed_new] = await codec.encode([plain("new")])
    assert sealed_new.metadata[KEY_ID] == b"k2"
    assert [p.data for p in await codec.decode([sealed_old, sealed_new])] == [b"old", b"new"]


async def test_unknown_key_and_tampering_are_refused() -> None:
    [sealed] = await EncryptionCodec(KeyRing.generate("k1")).encode([plain("x")])
    with pytest.raises(PayloadKeyError, match="key 'k1': this process does not hold") as info:
        await EncryptionCodec(KeyRing.generate("k9")).decode([sealed])
    assert "PAYLOAD_KEYS" in str(info.value) and "\n" not in str(info.value)
    other_k1 = EncryptionCodec(KeyRing.generate("k1"))
    with pytest.raises(PayloadKeyError, match="does not open it"):
        await other_k1.decode([sealed])


async def test_whole_data_converter_round_trips_a_referral() -> None:
    conv = DataConverter(payload_codec=EncryptionCodec(KeyRing.generate()))
    ref = referral("FT-CODEC-1")
    payloads = await conv.encode([ref])
    assert b"Fabrikam" not in payloads[0].SerializeToString()
    [back] = await conv.decode(payloads, [type(ref)])
    assert back == ref


def test_key_file_is_generated_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = load_keyring(None, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keyring(None, path) == ring
    env = f"k7:{base64.b64encode(bytes(32)).decode()}"
    assert load_keyring(env, path).active == "k7"


@pytest.mark.parametrize(
    "value",
    ["nocolon", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}"],
)
def test_bad_env_keys_are_one_line_errors(value: str) -> None:
    with pytest.raises(PayloadKeyError) as info:
        KeyRing.from_env_value(value)
    assert "\n" not in str(info.value)


def test_bad_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps({"active": "k2", "keys": {"k1": base64.b64encode(bytes(32)).decode()}})
    )
    with pytest.raises(PayloadKeyError, match="active key"):
        load_keyring(None, path)


async def test_codec_server_decodes_for_operators_only_and_limits_cors() -> None:
    settings = replace(Settings(), portal_admin_token=SecretStr("ops-secret"))
    codec = EncryptionCodec(KeyRing.generate())
    [sealed] = await codec.encode([plain("hello")])
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }
    app = create_codec_app(settings, codec)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        denied = await client.post("/decode", json=body)
        assert denied.status_code == 401
        ok = await client.post("/decode", json=body, headers={"Authorization": "Bearer ops-secret"})
        assert ok.status_code == 200
        assert base64.b64decode(ok.json()["payloads"][0]["data"]) == b"hello"
        bad = await client.post(
            "/decode", json={"nope": 1}, headers={"Authorization": "Bearer ops-secret"}
        )
        assert bad.status_code == 400
        ui = await client.options(
            "/decode",
            headers={"Origin": settings.ui_origin, "Access-Control-Request-Method": "POST"},
        )
        assert ui.headers.get("access-control-allow-origin") == settings.ui_origin
        evil = await client.options(
            "/decode",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in evil.headers


def test_new_key_prints_an_entry_payload_keys_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from runtime.codec import main

    assert main(["new-key", "k2"]) == 0
    entry = capsys.readouterr().out.strip()
    old = f"k1:{base64.b64encode(bytes(32)).decode()}"
    ring = KeyRing.from_env_value(f"{entry},{old}")
    assert ring.active == "k2" and set(ring.keys) == {"k1", "k2"}
    assert main(["new-key"]) == 2
