"""The scale-out bench's partner side: each referral started as the CLI does, its notification
awaited at the sink, the partner's answers posted to the portal (retried with the same
Idempotency-Key through outages), and its end state checked against its kind."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from temporalio.client import Client

from bench.cluster import Cluster
from bench.common import bench_referral, message_prefix, partner_of
from bench.sink import SinkProcess
from db.outbox import CLAIM
from db.readmodel import ReferralReadModel
from domain import names
from domain.models import Referral, ReferralState, ReferralSummary
from runtime.intake import start_referral
from tests.factories import referral

Kind = Literal["accept", "decline", "expire", "split", "complete"]

# kind -> (status, outcome of each assignment); a split's parts each end "completed"
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "accept": ("active", ["accepted"]),
    "complete": ("completed", ["completed"]),
    "decline": ("completed", ["declined", "completed"]),
    "expire": ("completed", ["expired", "completed"]),
    "split": ("completed", []),
}
SPLIT_WORKLOADS = ("copilot", "windows")  # no bench partner has either: these referrals split
OUTAGE_PATIENCE = 180.0  # seconds to keep retrying through a restart or a failover
# An email the killed worker had claimed waits for its claim to end before another sends it.
NOTICE_PATIENCE = OUTAGE_PATIENCE + CLAIM.total_seconds()
NOT_YET_PATIENCE = 60.0  # seconds an announced assignment may take to be recorded (failover)
_UNSAFE_IN_MESSAGE_ID = re.compile(r"[^A-Za-z0-9_-]+")

# Prometheus samples that count executed activities (regular and local) in a worker
ACTIVITY_SAMPLES = (
    "temporal_activity_execution_latency_count",
    "temporal_local_activity_execution_latency_count",
)


class Lost(AssertionError):
    """A referral that was never started, never notified or cannot be found."""


class WrongState(AssertionError):
    """A referral that ended in another state than its kind expects."""


def activity_count(exposition: str) -> int:
    """Activities executed, from one worker's Prometheus text (every label set summed)."""
    total = 0.0
    for line in exposition.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in ACTIVITY_SAMPLES:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def referral_for(kind: str, rid: str, i: int) -> Referral:
    if kind == "split":
        return referral(
            rid,
            type="benefit" if i % 2 else "standard",
            workloads=list(SPLIT_WORKLOADS),
            active_usage={},
        )
    return bench_referral(rid, i)


class Driver:
    def __init__(
        self,
        cluster: Cluster,
        client: Client,
        portal: httpx.AsyncClient,
        tokens: dict[str, str],
        sla: timedelta,
        readmodel: ReferralReadModel,
        concurrency: int = 50,
    ) -> None:
        self.cluster = cluster
        self.readmodel = readmodel
        self.client = client
        self.portal = portal
        self.tokens = tokens
        self.sla = sla.total_seconds()
        self.gate = asyncio.Semaphore(concurrency)  # requests in flight
        self.intake = asyncio.Semaphore(concurrency)  # referrals between start and notification
        self.progressed = 0
        self.finished = 0
        self.not_yet_assigned: dict[str, int] = {}  # id -> refusals retried
        self._faults: set[asyncio.Task[None]] = set()  # kept until the run ends

    async def settled(self) -> None:
        """Wait for the faults injected so far (a restart in progress) to finish."""
        await asyncio.gather(*self._faults)

    @property
    def sink(self) -> SinkProcess:
        return self.cluster.sink

    async def drive(
        self, rid: str, kind: Kind, i: int, faults: Callable[[int], Coroutine[Any, Any, None]]
    ) -> None:
        """One referral of the mixed run, from its start to its checked end state; a failure
        carries what the workflow recorded (each assignment: partner, outcome, times)."""
        try:
            await self._drive(rid, kind, i, faults)
        except (Lost, WrongState) as err:
            raise type(err)(f"{err} | recorded: {await self.recorded(rid)}") from None
        finally:
            self.finished += 1

    async def recorded(self, rid: str) -> str:
        """What the workflow recorded, and for a split what each part recorded."""
        own = await self._recorded(rid)
        if not own.startswith(("split", "completed")):
            return own
        parts = [await self._recorded(names.part_workflow_id(rid, n)) for n in (1, 2)]
        return f"{own} (parts: {' / '.join(parts)})"

    async def _recorded(self, rid: str) -> str:
        try:
            state = await asyncio.wait_for(
                self.client.get_workflow_handle(rid).query(
                    names.QUERY_DETAILS, result_type=ReferralState
                ),
                30,
            )
        except Exception as err:
            return f"no state ({type(err).__name__}: {str(err)[:100]})"
        steps = [
            f"#{n} {a.partner} {a.outcome} assigned {a.assigned_at:%H:%M:%S} "
            f"due {a.due_at:%H:%M:%S} decided {a.decided_at:%H:%M:%S}"
            if a.due_at and a.decided_at
            else f"#{n} {a.partner} {a.outcome}"
            for n, a in enumerate(state.assignments, start=1)
        ]
        return f"{state.status}: " + "; ".join(steps)

    async def _drive(
        self, rid: str, kind: Kind, i: int, faults: Callable[[int], Coroutine[Any, Any, None]]
    ) -> None:
        async with self.intake:  # at most `concurrency` referrals on their way in at once
            await self.start(referral_for(kind, rid, i))
            if kind != "split":
                first = await self.notified(rid, 1)
        self.progressed += 1  # started and (but for splits) notified
        self._faults.add(asyncio.get_running_loop().create_task(faults(self.progressed)))
        if kind in ("accept", "complete"):
            await self.act(rid, first, "accept")
        if kind == "complete":
            await self.act(rid, first, "complete", {"vas_sold": False})
        if kind == "decline":
            await self.act(rid, first, "decline", {"reason": "customer_unresponsive"})
        if kind in ("decline", "expire"):  # the next partner is notified, takes it, closes it
            second = await self.notified(rid, 2, timeout=self.sla + NOTICE_PATIENCE)
            await self.act(rid, second, "accept")
            await self.act(rid, second, "complete", {"vas_sold": False})
        if kind == "split":  # each part's partner answers on its own, as partners do
            parts = [names.part_workflow_id(rid, number) for number in (1, 2)]
            await asyncio.gather(*(self._take_and_close(part) for part in parts))
        await self.check(rid, kind)

    async def _take_and_close(self, part: str) -> None:
        holder = await self.notified(part, 1)
        await self.act(part, holder, "accept")
        await self.act(part, holder, "complete", {"vas_sold": False})

    async def start(self, r: Referral) -> None:
        """Start as the CLI does; through an outage, retried (a start that landed before its
        answer was lost is found as already started)."""
        deadline = time.monotonic() + OUTAGE_PATIENCE
        while True:
            try:
                async with self.gate:
                    queue = self.cluster.settings.task_queue
                    await start_referral(self.client, queue, r, self.readmodel)
                return
            except Exception as err:
                if time.monotonic() > deadline:
                    raise Lost(f"start never accepted: {err}") from None
                await asyncio.sleep(1)

    async def notified(self, scope: str, seq: int, timeout: float | None = None) -> str:
        """The partner (MPN ID) whose notification number `seq` of `scope` arrived."""
        prefix = message_prefix(_UNSAFE_IN_MESSAGE_ID.sub("-", scope), seq, "notification")
        try:
            arrival = await self.sink.wait_id(prefix, timeout or NOTICE_PATIENCE)
        except TimeoutError:
            raise Lost(f"notification {seq} of {scope} never arrived") from None
        return partner_of(arrival)

    async def act(
        self, rid: str, mpn: str, action: str, body: dict[str, Any] | None = None
    ) -> None:
        """POST the partner's action to the portal, as a partner's script would: retried with
        the same Idempotency-Key while the portal answers 503 or cannot be reached, and with a
        new one for a while when the referral is not (yet) the partner's."""
        headers = {
            "Authorization": f"Bearer {self.tokens[mpn]}",
            "Idempotency-Key": f"{rid}.{action}.{mpn}",
        }
        deadline = time.monotonic() + OUTAGE_PATIENCE
        not_found_until = time.monotonic() + NOT_YET_PATIENCE
        refusals = 0
        while True:
            try:
                url = f"/api/referrals/{rid}/{action}"
                async with self.gate:  # requests in flight, never a referral's waits
                    r = await self.portal.post(url, json=body, headers=headers)
            except httpx.TransportError as err:
                if time.monotonic() > deadline:
                    raise WrongState(f"{action} by {mpn}: portal unreachable: {err}") from None
            else:
                if r.status_code == 200:
                    return
                retry = r.status_code in (502, 503, 504) and time.monotonic() < deadline
                if r.status_code == 404 or _refused_as_not_assigned(r):
                    # Notified by a worker that died before its workflow task was recorded:
                    # until another worker has replayed the match, the workflow does not
                    # hold the assignment the email announced. Counted, then retried.
                    self.not_yet_assigned[rid] = self.not_yet_assigned.get(rid, 0) + 1
                    retry = time.monotonic() < not_found_until
                    refusals += 1  # the portal keeps a 409 for its key: ask with a new one
                    headers["Idempotency-Key"] = f"{rid}.{action}.{mpn}.{refusals}"
                if not retry:
                    at = datetime.now(UTC)
                    raise WrongState(
                        f"{action} by {mpn} at {at:%H:%M:%S}: {r.status_code} {r.text[:200]}"
                    )
            await asyncio.sleep(1)

    async def check(self, rid: str, kind: str) -> None:
        status, outcomes = EXPECTED[kind]
        if kind == "accept":
            state = await self._retrying(
                lambda: self.client.get_workflow_handle(rid).query(
                    names.QUERY_DETAILS, result_type=ReferralState
                )
            )
            found: tuple[str, list[str], list[str]] = (
                state.status,
                [a.outcome for a in state.assignments],
                [],
            )
        else:
            handle = self.client.get_workflow_handle(rid, result_type=ReferralSummary)
            summary = await self._retrying(handle.result)
            parts = [p.status for p in summary.parts]
            found = (summary.status, [a.outcome for a in summary.assignments], parts)
        parts_ok = found[2] == ["completed", "completed"] if kind == "split" else not found[2]
        if found[:2] != (status, outcomes) or not parts_ok:
            raise WrongState(f"expected {status} {outcomes}, found {found}")

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + OUTAGE_PATIENCE
        while True:
            try:
                return await asyncio.wait_for(call(), OUTAGE_PATIENCE)
            except Exception as err:
                if "not found" in str(err).lower():
                    raise Lost(f"workflow not found: {err}") from None
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)


def _refused_as_not_assigned(r: httpx.Response) -> bool:
    if r.status_code != 409:
        return False
    try:
        return bool(r.json().get("error") == "not_assigned")
    except ValueError:
        return False
