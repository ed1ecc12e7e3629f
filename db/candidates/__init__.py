"""Matching against the partner directory: partner rows (`rows`), the in-memory directory
index that pre-filters them (`index`), and the match with its race-safe, idempotent
reservation of the chosen partner (`reservation`).

A match (`match`) runs in three steps:

1. `DirectoryIndex.refresh`: the partner rows changed since the last refresh
   (`partners.change_tick` above the highest tick seen; an indexed range read, normally
   empty) are read and applied. Every transaction that changes a partner row first takes the
   next tick from `directory_state` (`bump_tick`): the counter row stays locked until commit,
   so ticks commit in order and the rows above the last tick seen are exactly the changes
   committed since.
2. The criteria of `domain.matching.CRITERIA` (same names, same order) as bitsets: each
   criterion is one AND, and the partners it removed a popcount, so the explanation counts
   are those of the whole directory without reading it.
3. The best-ranked eligible partner is loaded by primary key, checked against the index (same
   change tick, otherwise refresh and choose again) and the pure `evaluate` decides (CPOR
   rule, split planning).
"""

from db.candidates.index import REBUILD_ABOVE, DirectoryIndex, directory_index, index_of
from db.candidates.reservation import (
    MAX_RESERVE_ATTEMPTS,
    MatchConflict,
    SlotTaken,
    existing_reservation,
    explain_counts,
    find_candidates,
    match,
    match_and_reserve,
    match_in,
    reserve,
)
from db.candidates.rows import PARTNER_COLUMNS, load_partner, load_partners
from db.directory_tick import bump_tick

__all__ = [
    "MAX_RESERVE_ATTEMPTS",
    "PARTNER_COLUMNS",
    "REBUILD_ABOVE",
    "DirectoryIndex",
    "MatchConflict",
    "SlotTaken",
    "bump_tick",
    "directory_index",
    "existing_reservation",
    "explain_counts",
    "find_candidates",
    "index_of",
    "load_partner",
    "load_partners",
    "match",
    "match_and_reserve",
    "match_in",
    "reserve",
]
