"""Property-based conformance of the portal to its own OpenAPI schema (schemathesis): every
operation, generated requests with a valid token and a real referral id, no 5xx and every
response matching the declared status codes, content types and schemas."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from db.tokens import TokenStore
from portal import create_app
from tests.factories import partner, referral
from tests.harness import Harness

ADMIN = "schema-admin-token"
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 8}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def generate(operation: Any, mode: GenerationMode, count: int) -> list[Any]:
    cases: list[Any] = []

    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=count,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        cases.append(case)

    # An operation without inputs has nothing to break in negative mode.
    with contextlib.suppress(Unsatisfiable):
        collect()
    return cases


def httpx_kwargs(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    sent = case.as_transport_kwargs(base_url="http://portal", headers=headers)
    kwargs: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": sent.get("headers") or {},
        "params": sent.get("params") or None,
    }
    if "json" in sent:
        kwargs["json"] = sent["json"]
    elif sent.get("data") is not None:
        data = sent["data"]
        kwargs["content"] = data if isinstance(data, bytes | str) else None
        if not isinstance(data, bytes | str):
            kwargs["data"] = data
    return kwargs


async def test_every_operation_conforms_to_the_schema(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"), partner("1003"))
    handle = await h.start(referral(f"FT-S-{uuid.uuid4().hex[:6]}"))
    rid = handle.id
    holder = await h.assigned(handle)
    token = await TokenStore(h.sessions).issue(holder, datetime.now(UTC))
    app = create_app(replace(h.settings, portal_admin_token=SecretStr(ADMIN)), h.client, h.sessions)
    schema = schemathesis.openapi.from_dict(app.openapi())

    operations: list[Any] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    # Operators last: a cancel ends the referral the partner operations act on.
    operations.sort(key=lambda op: "/admin/" in op.path)
    assert len(operations) == 15

    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portal"
    ) as http:
        for operation in operations:
            bearer = ADMIN if "/admin/" in operation.path else token
            for mode, count in EXAMPLES.items():
                for n, case in enumerate(generate(operation, mode, count)):
                    if "id" in (case.path_parameters or {}) and n % 4 != 3:
                        case.path_parameters["id"] = rid  # mostly the real referral
                    headers = {"Authorization": f"Bearer {bearer}"}
                    response = await http.request(**httpx_kwargs(case, headers))
                    statuses.setdefault(operation.label, set()).add(response.status_code)
                    try:
                        case.validate_response(response, checks=CHECKS)
                    except Exception as err:  # schemathesis' FailureGroup
                        failures.append(f"{operation.label} [{mode.value}]: {err}")

    assert not failures, "\n\n".join(failures[:5])
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses
    # The real referral was reached, not only rejected requests.
    assert 200 in statuses["GET /api/referrals/{id}"]
    assert 200 in statuses["GET /api/admin/referrals"]
    assert 200 in statuses["PUT /api/referrals/{id}/external-ref"]
