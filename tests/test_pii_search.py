"""The PII search of the dev-server test (`tests.pii`) finds a customer's name in a history
written without the payload codec: so its passing there means the codec hid it."""

from __future__ import annotations

import json
from base64 import b64encode

from temporalio.converter import DataConverter

from runtime.codec import KeyRing, data_converter
from tests.factories import partner, referral
from tests.harness import Harness
from tests.pii import readable_history


async def test_the_pii_search_finds_the_customer_in_a_history_written_without_the_codec(
    h: Harness,
) -> None:
    assert h.client.data_converter.payload_codec is None  # the test worker runs without it
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-PII-OFF"))
    await h.assigned(handle)
    history = (await handle.fetch_history()).to_json()
    assert "Fabrikam Ltd" not in history  # base64: the old search could never fail
    assert "Fabrikam Ltd" in readable_history(history)


async def test_the_pii_search_finds_nothing_in_payloads_the_codec_encrypted() -> None:
    plain = DataConverter.default
    sealed = data_converter(KeyRing.generate())
    name = referral("FT-PII-ON").customer.name
    [raw] = await plain.encode([name])
    [encrypted] = await sealed.encode([name])

    def history_of(data: bytes) -> str:
        return json.dumps(
            {"events": [{"payload": {"metadata": {}, "data": b64encode(data).decode()}}]}
        )

    assert name in readable_history(history_of(raw.data))
    assert name not in readable_history(history_of(encrypted.data))
