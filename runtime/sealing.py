"""Secrets kept in the database encrypted with the payload key ring (AES-GCM): webhook signing
secrets must be read back to sign each delivery, so a one-way hash cannot store them."""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runtime.codec import NONCE_BYTES, KeyRing, PayloadKeyError, keyring_for
from settings import Settings

_PURPOSE = b"fasttrack-webhook-secret"


class Sealer:
    """`seal` text as `kid:base64(nonce + ciphertext)` with the active key; `open` it with the
    key it names (so rotating the payload key leaves stored secrets readable)."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @classmethod
    def for_settings(cls, settings: Settings) -> Sealer:
        return cls(keyring_for(settings))

    def seal(self, text: str) -> str:
        kid = self._ring.active
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._ring.keys[kid]).encrypt(nonce, text.encode(), _PURPOSE)
        return f"{kid}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, stored: str) -> str:
        kid, _, data = stored.partition(":")
        key = self._ring.keys.get(kid)
        if key is None:
            raise PayloadKeyError(f"a stored secret needs payload key {kid!r}, not held here")
        raw = base64.b64decode(data)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _PURPOSE).decode()
        except InvalidTag:
            raise PayloadKeyError(f"payload key {kid!r} does not open a stored secret") from None
