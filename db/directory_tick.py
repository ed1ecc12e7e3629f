"""The partner directory's change tick (`directory_state`): every transaction that changes
partner rows takes the next one first, so that readers of the directory can tell what changed
since they last looked (`db.candidates`)."""

from __future__ import annotations

import functools
import typing
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

from db.models import DirectoryState
from db.transactions import dialect_insert

T = typing.cast(Table, DirectoryState.__table__)


def connection_of(session: Session | Connection) -> Connection:
    """The connection a session's statements run on (a connection is its own)."""
    return session if isinstance(session, Connection) else session.connection()


@functools.cache
def _bump_tick_statement(dialect: str) -> Any:
    """Built once per dialect: a statement built per call costs its coercions and a fresh
    cache key (as `db.transactions.insert_ignore`)."""
    return (
        dialect_insert(dialect)(T)
        .values(id=1, tick=1)
        .on_conflict_do_update(index_elements=[T.c.id], set_={"tick": T.c.tick + 1})
        .returning(T.c.tick)
    )


def bump_tick(session: Session | Connection) -> int:
    """Take the next directory change tick, for the partner rows this transaction changes
    (`partners.change_tick`). Call it before changing any partner row: it locks the counter
    row until commit (so ticks commit in order and lock order is always counter → rows)."""
    conn = connection_of(session)
    return int(conn.execute(_bump_tick_statement(conn.dialect.name)).scalar_one())
