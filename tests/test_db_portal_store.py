"""The portal's sign-in records: links used once and only in time, sessions ending when idle,
at their absolute expiry or at sign-out, and the counts behind the rate limits."""

from __future__ import annotations

from datetime import timedelta

from db.directory import PartnerDirectory
from db.portal_store import (
    LINK_LIFETIME,
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    Admission,
    Limits,
    LinkUse,
    PortalStore,
)
from tests.dbfixtures import T0, Database, partner_profile

LIMITS = Limits(timedelta(minutes=15), per_address=5, per_client=30)


async def _link(store: PortalStore, email: str, next_path: str) -> str:
    admitted = await store.admit(email, "1.2.3.4", T0, LIMITS, next_path)
    assert admitted.token is not None
    return admitted.token


async def test_sign_in_link_works_once_and_only_before_it_expires(database: Database) -> None:
    store = PortalStore(database.sessionmaker)
    token = await _link(store, "a@p.example", "/referrals/X")
    assert await store.peek_link(token, T0) == LinkUse("a@p.example", "/referrals/X")
    assert await store.use_link(token, T0) == LinkUse("a@p.example", "/referrals/X")
    assert await store.use_link(token, T0) == "This sign-in link was already used."
    late = await _link(store, "a@p.example", "/")
    assert await store.use_link(late, T0 + LINK_LIFETIME) == "This sign-in link has expired."
    assert await store.use_link("forged", T0) == "This sign-in link is not valid."


async def test_unknown_addresses_are_counted_but_get_no_link(database: Database) -> None:
    store = PortalStore(database.sessionmaker)
    limits = Limits(timedelta(minutes=15), per_address=5, per_client=2)
    unknown = Admission(refused=False, token=None)
    assert await store.admit("x@nowhere.example", "9.9.9.9", T0, limits, None) == unknown
    assert await store.admit("y@nowhere.example", "9.9.9.9", T0, limits, None) == unknown
    refused = await store.admit("z@nowhere.example", "9.9.9.9", T0, limits, None)
    assert refused.refused  # the client's limit, whatever the address
    later = T0 + timedelta(minutes=16)
    assert await store.admit("z@nowhere.example", "9.9.9.9", later, limits, None) == unknown


async def test_past_the_address_limit_requests_are_answered_but_make_no_link(
    database: Database,
) -> None:
    store = PortalStore(database.sessionmaker)
    made = [(await store.admit("a@p.example", f"c{n}", T0, LIMITS, "/")).token for n in range(7)]
    assert all(made[:5]) and made[5:] == [None, None]


async def test_sessions_end_when_idle_at_their_absolute_expiry_and_at_sign_out(
    database: Database,
) -> None:
    store = PortalStore(database.sessionmaker)
    contact = partner_profile("100", referral_contact="a@p.example")
    await PartnerDirectory(database.sessionmaker).upsert([contact], T0)
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
