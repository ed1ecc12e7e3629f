"""Idempotent actions: the first answer to an Idempotency-Key is stored and replayed, and the
key is the workflow update id, so even a concurrent repeat is applied once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from domain.models import ReferralState
from portal.auth import Portal
from portal.gateway import load, run_update
from portal.schemas import ApiError, not_found


def request_hash(method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


async def act(
    portal: Portal,
    request: Request,
    scope: str,
    key: str | None,
    workflow_id: str,
    update: str,
    arg: Any,
    may_act: Callable[[ReferralState], bool],
) -> JSONResponse:
    """Run `update` on the workflow once per (scope, key); 404 unless `may_act`."""
    digest = request_hash(request.method, request.url.path, await request.body())
    if key is not None:
        stored = await portal.tokens.recall(scope, key)
        if stored is not None:
            stored_hash, status_code, body = stored
            if stored_hash != digest:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request",
                )
            return JSONResponse(body, status_code=status_code)
    loaded = await load(portal, workflow_id)
    if loaded is None or not may_act(loaded.state):
        raise not_found()
    status_code, body = await run_update(
        portal, loaded, update, arg, f"{scope}:{key}" if key else None
    )
    if key is not None:
        await portal.tokens.remember(scope, key, digest, status_code, body, datetime.now(UTC))
    return JSONResponse(body, status_code=status_code)
