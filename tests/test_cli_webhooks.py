"""`partners webhooks add|list|remove|rotate` in process against the test database: the
secret alone on stdout, once; one-line errors with the CLI's exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cli.app import build_parser
from cli.context import Context
from cli.errors import BAD_INPUT, CliError
from runtime.webhook_receiver import WebhookReceiver
from tests.factories import partner
from tests.harness import Harness


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


async def run(h: Harness, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    args = build_parser().parse_args(["partners", "webhooks", *argv])
    ctx = Context(h.settings)
    try:
        assert await args.handler(ctx, args) == 0
    finally:
        await ctx.close()
    out = capsys.readouterr()
    return out.out, out.err


async def test_operators_add_list_rotate_and_remove_subscriptions(
    h: Harness, capsys: pytest.CaptureFixture[str], receiver: WebhookReceiver
) -> None:
    await h.partners(partner("7001"))
    out, err = await run(h, capsys, "add", "7001", receiver.url, "--events", "accepted,expired")
    secret = out.strip()
    assert out == f"{secret}\n" and secret.startswith("whsec_") and secret not in err
    out, _ = await run(h, capsys, "list", "7001", "--json")
    [sub] = json.loads(out)
    assert sub["url"] == receiver.url and sub["active"] is True
    assert sub["events"] == ["referral.accepted", "referral.expired"]
    assert secret not in out
    out, _ = await run(h, capsys, "list")
    assert receiver.url in out and "accepted, expired" in out

    out, _ = await run(h, capsys, "rotate", str(sub["id"]))
    assert out.strip().startswith("whsec_") and out.strip() != secret
    out, _ = await run(h, capsys, "remove", str(sub["id"]), "--as", "ann")
    assert "removed subscription" in out
    out, _ = await run(h, capsys, "list", "7001", "--json")
    assert json.loads(out) == []


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["add", "7101", "ftp://example.com/"], 2, "https://"),
        (["add", "7101", "http://x.example/", "--events", "nope"], 2, "unknown event"),
        (["add", "7999", "http://127.0.0.1:9/"], 3, "unknown partner 7999"),
        (["remove", "99999"], 3, "no webhook subscription 99999"),
        (["rotate", "99999"], 3, "no webhook subscription 99999"),
    ],
)
async def test_bad_input_is_one_line_with_its_exit_code(
    h: Harness, argv: list[str], code: int, message: str
) -> None:
    await h.partners(partner("7101"))
    args = build_parser().parse_args(["partners", "webhooks", *argv])
    ctx = Context(h.settings)
    try:
        with pytest.raises(CliError) as raised:
            await args.handler(ctx, args)
    finally:
        await ctx.close()
    assert raised.value.code == code and message in raised.value.message
    assert "\n" not in raised.value.message


@pytest.mark.parametrize("bad", ["²", "1" * 5000, "0", "-3"])
def test_a_subscription_id_must_be_a_plain_whole_number(bad: str) -> None:
    with pytest.raises(CliError) as raised:
        build_parser().parse_args(["partners", "webhooks", "remove", bad])
    assert raised.value.code == BAD_INPUT and "not a subscription id" in raised.value.message
    assert len(raised.value.message) < 200
