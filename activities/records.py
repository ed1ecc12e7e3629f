"""The read model and audit trail: every state change of a referral, written idempotently.

Referrals started since workflow v3 ("lean-1") record through `publish_changes` (with their
emails); this activity serves the ones started before."""

from __future__ import annotations

from temporalio import activity

from db.readmodel import ReferralReadModel
from domain import names
from domain.models import Snapshot


class RecordActivities:
    def __init__(self, read_model: ReferralReadModel) -> None:
        self._read_model = read_model

    @activity.defn(name=names.ACTIVITY_RECORD)
    async def record_snapshot(self, snapshot: Snapshot) -> None:
        await self._read_model.sync(snapshot)
