"""Outbound webhook calls: one signed POST to an endpoint that has just been resolved and
checked (the address connected to is the one checked, so a DNS answer that changes between
check and call cannot point the request at an internal service), no redirects followed, 10 s
timeouts, and only the first bytes of the answer read."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from domain.text import Text, tr
from domain.webhooks import address_refusal

TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 16 * 1024


@dataclass(frozen=True)
class HttpOutcome:
    outcome: str  # delivered | http_error | refused | error
    code: int | None
    latency_ms: int
    error: str = ""


async def resolve_checked(url: str, allow_insecure: bool) -> tuple[str, Text | None]:
    """(an address to connect to, why the endpoint is refused or None)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        return "", tr("cannot resolve %(host)s: %(error)s", host=host, error=str(err))
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        return "", tr("%(host)s has no address", host=host)
    for address in addresses:
        refusal = address_refusal(host, address, allow_insecure)
        if refusal:
            return "", refusal
    return addresses[0], None


async def post_event(
    url: str, body: bytes, headers: dict[str, str], allow_insecure: bool
) -> HttpOutcome:
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    address, refusal = await resolve_checked(url, allow_insecure)
    if refusal:
        return HttpOutcome("refused", None, took(), str(refusal))
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = f"[{address}]" if ":" in address else address
    target = parts._replace(netloc=f"{literal}:{port}").geturl()
    sent = {
        **headers,
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        "User-Agent": "FastTrack-Webhooks/1",
    }
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        async with (
            httpx.AsyncClient(
                timeout=httpx.Timeout(TIMEOUT_S), follow_redirects=False, trust_env=False
            ) as client,
            client.stream(
                "POST", target, content=body, headers=sent, extensions=extensions
            ) as response,
        ):
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
            code = response.status_code
    except httpx.TimeoutException:
        return HttpOutcome("error", None, took(), f"timed out after {TIMEOUT_S:.0f}s")
    except httpx.HTTPError as err:
        return HttpOutcome("error", None, took(), f"{type(err).__name__}: {err}"[:500])
    if 200 <= code < 300:
        return HttpOutcome("delivered", code, took())
    why = "redirects are not followed" if 300 <= code < 400 else "the endpoint refused it"
    return HttpOutcome("http_error", code, took(), f"HTTP {code}: {why}")
