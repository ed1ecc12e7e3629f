"""API tokens (hashed), portal idempotency keys, single-use links."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select

from db.directory import PartnerDirectory, UnknownPartner
from db.models import ApiToken
from db.tokens import TokenStore
from tests.dbfixtures import T0, Database, partner_profile


async def test_issue_verify_revoke(database: Database) -> None:
    await PartnerDirectory(database.sessionmaker).upsert(
        [partner_profile("100"), partner_profile("200")], T0
    )
    store = TokenStore(database.sessionmaker)
    first, second = await store.issue("100", T0), await store.issue("100", T0)
    other = await store.issue("200", T0)
    assert first.startswith("ftp_") and len(first) > 40 and first != second

    async with database.sessionmaker() as s:
        hashes = set(await s.scalars(select(ApiToken.token_hash)))
    assert hashlib.sha256(first.encode()).hexdigest() in hashes
    assert first not in hashes

    assert await store.verify(first) == "100"
    assert await store.verify(other) == "200"
    assert await store.verify("ftp_forged") is None
    assert await store.verify("") is None

    assert await store.revoke("100", T0) == 2
    assert await store.revoke("100", T0) == 0
    assert await store.verify(first) is None and await store.verify(second) is None
    assert await store.verify(other) == "200"


async def test_unknown_partner(database: Database) -> None:
    store = TokenStore(database.sessionmaker)
    with pytest.raises(UnknownPartner):
        await store.issue("nope", T0)
    with pytest.raises(UnknownPartner):
        await store.revoke("nope", T0)


async def test_idempotency_keys_keep_the_first_answer(database: Database) -> None:
    store = TokenStore(database.sessionmaker)
    assert await store.recall("100", "k1") is None
    await store.remember("100", "k1", "h1", 200, {"status": "active"}, T0)
    await store.remember("100", "k1", "h2", 409, {"error": "x"}, T0)
    assert await store.recall("100", "k1") == ("h1", 200, {"status": "active"})
    assert await store.recall("200", "k1") is None


async def test_links_are_single_use_even_under_races(database: Database) -> None:
    store = TokenStore(database.sessionmaker)
    assert await store.use_link("n1", T0) is True
    assert await store.use_link("n1", T0) is False
    results = await asyncio.gather(*(store.use_link("n2", T0) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
