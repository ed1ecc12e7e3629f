"""AES-GCM payload encryption for every workflow and activity payload.

Keys live in a JSON key file (`{"active": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}`)
or in `PAYLOAD_KEYS` (`k2:<base64>,k1:<base64>`, the first is active). Each encrypted payload
names its key id in its metadata, so rotating keys means: add a new key, make it active, keep
the old ones for as long as histories encrypted with them must be read.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from runtime.atomic import create_once
from runtime.payloads import PayloadConverter
from settings import Settings, SettingsError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12

log = logging.getLogger("fasttrack.codec")


class PayloadKeyError(SettingsError):
    """The key material is missing or malformed (one line, for the user)."""


@dataclass(frozen=True)
class KeyRing:
    active: str
    keys: dict[str, bytes]

    @classmethod
    def generate(cls, key_id: str = "k1") -> KeyRing:
        return cls(key_id, {key_id: AESGCM.generate_key(bit_length=256)})

    def rotated(self, key_id: str) -> KeyRing:
        """A new active key; the old ones still decrypt."""
        if key_id in self.keys:
            raise PayloadKeyError(f"key id {key_id!r} already exists")
        return KeyRing(key_id, {**self.keys, key_id: AESGCM.generate_key(bit_length=256)})

    def to_json(self) -> str:
        keys = {k: base64.b64encode(v).decode() for k, v in self.keys.items()}
        return json.dumps({"active": self.active, "keys": keys}, indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "key file") -> KeyRing:
        try:
            raw = json.loads(text)
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in raw["keys"].items()}
            active = str(raw["active"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise PayloadKeyError(f"{where} is not a valid payload key file") from None
        return cls._checked(active, keys, where)

    @classmethod
    def from_env_value(cls, value: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in value.split(","):
            kid, sep, material = item.strip().partition(":")
            if not sep or not kid:
                raise PayloadKeyError("PAYLOAD_KEYS must look like 'k2:<base64>,k1:<base64>'")
            try:
                keys[kid] = base64.b64decode(material, validate=True)
            except ValueError:
                raise PayloadKeyError(f"PAYLOAD_KEYS: key {kid!r} is not base64") from None
            order.append(kid)
        return cls._checked(order[0], keys, "PAYLOAD_KEYS")

    @classmethod
    def _checked(cls, active: str, keys: dict[str, bytes], where: str) -> KeyRing:
        if active not in keys:
            raise PayloadKeyError(f"{where}: active key {active!r} is not among the keys")
        for kid, key in keys.items():
            if len(key) not in (16, 24, 32):
                raise PayloadKeyError(f"{where}: key {kid!r} must be 16, 24 or 32 bytes")
        return cls(active, keys)


def load_keyring(env_value: str | None, key_file: Path, create: bool = True) -> KeyRing:
    """PAYLOAD_KEYS wins; otherwise the key file, generated (mode 0600) when missing and
    `create` allows it. Processes starting together on an empty folder all end up with the
    same key: the file is created whole, once, and the others read it."""
    if env_value:
        return KeyRing.from_env_value(env_value)
    if not key_file.exists():
        if not create:
            raise PayloadKeyError(
                f"no payload key: set PAYLOAD_KEYS or PAYLOAD_KEY_FILE (no file at {key_file})"
            )
        ring = KeyRing.generate()
        if create_once(key_file, ring.to_json().encode(), mode=0o600):
            return ring
    try:
        text = key_file.read_text()
    except OSError as err:
        raise PayloadKeyError(f"cannot read {key_file}: {err.strerror or err}") from None
    return KeyRing.from_json(text, str(key_file))


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._ciphers = {kid: AESGCM(key) for kid, key in ring.keys.items()}
        self._reported: set[str] = set()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid = self._ring.active
        cipher = self._ciphers[kid]
        out = []
        for p in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, p.SerializeToString(), kid.encode())
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: kid.encode()},
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            kid = p.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(kid)
            if cipher is None:
                raise self._cannot_decrypt(kid, "this process does not hold that key")
            try:
                plain = cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], kid.encode())
            except InvalidTag:
                why = "the key of that id here does not open it (another key, or altered data)"
                raise self._cannot_decrypt(kid, why) from None
            out.append(Payload.FromString(plain))
        return out

    def _cannot_decrypt(self, kid: str, why: str) -> PayloadKeyError:
        held = ", ".join(sorted(self._ring.keys))
        err = PayloadKeyError(
            f"cannot decrypt a payload encrypted with key {kid!r}: {why} (it holds {held}); "
            "every worker, CLI, portal and codec server must share the same PAYLOAD_KEYS"
        )
        if kid not in self._reported:  # once per key id, however many payloads fail
            self._reported.add(kid)
            log.error("%s", err)
        return err


def data_converter(ring: KeyRing) -> DataConverter:
    """Payloads and failure messages/stack traces (which may quote data) both encrypted."""
    return DataConverter(
        payload_converter_class=PayloadConverter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def keyring_for(settings: Settings) -> KeyRing:
    """The configured keys: PAYLOAD_KEYS, else the key file (generated only in the demo)."""
    keys = settings.payload_keys
    return load_keyring(
        keys.get_secret_value() if keys else None, settings.payload_key_file, create=settings.demo
    )


def converter_for(settings: Settings) -> DataConverter:
    """The data converter every client of this product uses (encrypting all payloads)."""
    return data_converter(keyring_for(settings))


def main(argv: list[str] | None = None) -> int:
    """`python -m runtime.codec new-key ID`: print a fresh `ID:<base64>` entry for PAYLOAD_KEYS."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "new-key" or not args[1].isidentifier():
        print("usage: python -m runtime.codec new-key ID   (ID like k2)", file=sys.stderr)
        return 2
    key = KeyRing.generate(args[1]).keys[args[1]]
    print(f"{args[1]}:{base64.b64encode(key).decode()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
