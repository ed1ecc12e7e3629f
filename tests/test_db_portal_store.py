"""The portal's sign-in records: links used once and only in time, sessions ending when idle,
at their absolute expiry or at sign-out, and the counts behind the rate limits."""

from __future__ import annotations

from datetime import timedelta

from db.portal_store import LINK_LIFETIME, SESSION_ABSOLUTE, SESSION_IDLE, LinkUse, PortalStore
from tests.dbfixtures import T0, Database


async def test_sign_in_link_works_once_and_only_before_it_expires(database: Database) -> None:
    store = PortalStore(database.sessionmaker)
    token = await store.record_request("a@p.example", "1.2.3.4", T0, "/referrals/X")
    assert token is not None
    assert await store.peek_link(token, T0) == LinkUse("a@p.example", "/referrals/X")
    assert await store.use_link(token, T0) == LinkUse("a@p.example", "/referrals/X")
    assert await store.use_link(token, T0) == "This sign-in link was already used."
    late = await store.record_request("a@p.example", "1.2.3.4", T0, "/")
    assert late is not None
    assert await store.use_link(late, T0 + LINK_LIFETIME) == "This sign-in link has expired."
    assert await store.use_link("forged", T0) == "This sign-in link is not valid."


async def test_unknown_addresses_are_counted_but_get_no_link(database: Database) -> None:
    store = PortalStore(database.sessionmaker)
    assert await store.record_request("x@nowhere.example", "9.9.9.9", T0, None) is None
    await store.record_request("x@nowhere.example", "8.8.8.8", T0, None)
    assert await store.count_requests("x@nowhere.example", "9.9.9.9", T0) == (2, 1)
    later = T0 + timedelta(minutes=16)
    assert await store.count_requests("x@nowhere.example", "9.9.9.9", later) == (0, 0)


async def test_sessions_end_when_idle_at_their_absolute_expiry_and_at_sign_out(
    database: Database,
) -> None:
    store = PortalStore(database.sessionmaker)
    sid, viewer = await store.open_session("a@p.example", "partner", "100", T0)
    assert await store.viewer(sid, T0) == viewer and viewer.csrf
    assert await store.viewer(sid, T0 + SESSION_IDLE) is None
    step = SESSION_IDLE - timedelta(minutes=5)
    at = T0
    while at + step < T0 + SESSION_ABSOLUTE:
        at += step
        assert await store.viewer(sid, at) is not None  # each visit keeps it alive
    assert await store.viewer(sid, T0 + SESSION_ABSOLUTE) is None
    other, _ = await store.open_session("a@p.example", "partner", "100", T0)
    await store.end_session(other, T0)
    assert await store.viewer(other, T0) is None
    assert await store.viewer("never-issued", T0) is None
