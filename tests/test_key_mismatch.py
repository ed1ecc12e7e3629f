"""A client holding another payload key than the one that encrypted a payload: one line naming
the key id it needs and that PAYLOAD_KEYS must be shared, also as the CLI's error."""

from __future__ import annotations

import uuid

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.errors import BAD_INPUT, classify
from runtime.codec import KeyRing, PayloadKeyError, data_converter


def _client(env: WorkflowEnvironment, ring: KeyRing) -> Client:
    base = env.client
    converter = data_converter(ring)
    return Client(base.service_client, namespace=base.namespace, data_converter=converter)


async def test_a_client_with_another_key_says_which_key_it_needs(
    temporal_env: WorkflowEnvironment,
) -> None:
    writer = _client(temporal_env, KeyRing.generate("k2"))
    handle = await writer.start_workflow(
        "NoSuchWorkflow",
        id=f"key-mismatch-{uuid.uuid4().hex[:8]}",
        task_queue="nobody-polls-this",
        memo={"note": "encrypted with k2"},
    )
    try:
        assert await (await handle.describe()).memo_value("note") == "encrypted with k2"
        reader = _client(temporal_env, KeyRing.generate("k1"))
        try:
            await (await reader.get_workflow_handle(handle.id).describe()).memo()
            raise AssertionError("decrypted with the wrong key")
        except PayloadKeyError as err:
            message = str(err)
    finally:
        await handle.terminate("test finished")
    assert message.startswith("cannot decrypt a payload encrypted with key 'k2': ")
    assert "(it holds k1)" in message and "PAYLOAD_KEYS" in message and "\n" not in message
    failure = classify(PayloadKeyError(message))
    assert failure.code == BAD_INPUT and failure.line() == f"error: {message}"
