"""`GET /docs`: the API reference read from the portal's own OpenAPI document, rendered on the
server (no script, so the Content-Security-Policy holds and nothing loads from another site)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mail.i18n import _
from portal.render import render

router = APIRouter(include_in_schema=False)
METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str
    kind: str
    required: bool
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Parameter]
    body: str
    responses: list[tuple[str, str]]


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    fields: list[Parameter] = field(default_factory=list)


def type_of(schema: dict[str, Any]) -> str:
    """A short name for a JSON schema: `ReferralItem`, `list of string`, `string or null`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(type_of(s) for s in schema[key])
    if schema.get("type") == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    return str(schema.get("type", "any"))


def operations(spec: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                Parameter(
                    p["name"],
                    p.get("in", ""),
                    type_of(p.get("schema", {})),
                    bool(p.get("required")),
                    p.get("description", ""),
                )
                for p in op.get("parameters", [])
            ]
            content = op.get("requestBody", {}).get("content", {})
            body = type_of(content["application/json"]["schema"]) if content else ""
            responses = [(code, r.get("description", "")) for code, r in op["responses"].items()]
            found.append(
                Operation(
                    method.upper(),
                    path,
                    op.get("summary", ""),
                    op.get("description", ""),
                    params,
                    body,
                    responses,
                )
            )
    return found


def models(spec: dict[str, Any]) -> list[Model]:
    found = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        fields = [
            Parameter(key, "", type_of(prop), key in required, prop.get("description", ""))
            for key, prop in schema.get("properties", {}).items()
        ]
        found.append(Model(name, schema.get("description", ""), fields))
    return found


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    request.state.viewer = None
    return render(
        request,
        "api_docs",
        title=_("API reference"),
        api_title=spec["info"]["title"] + " API",
        nav="",
        intro=spec["info"].get("description", ""),
        version=spec["info"].get("version", ""),
        operations=operations(spec),
        models=models(spec),
    )
