"""Codec server: lets the Temporal Web UI show decrypted payloads to operators.

    python -m runtime.codec_server            # http://127.0.0.1:8234 (CODEC_PORT)
    temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8234

Implements Temporal's remote codec protocol (POST /encode, POST /decode with
`{"payloads": [{"metadata": {...base64...}, "data": "base64"}]}`). With PORTAL_ADMIN_TOKEN
set, callers must send `Authorization: Bearer <token>`; CORS admits only the UI's origin.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from temporalio.api.common.v1 import Payload

from runtime.codec import EncryptionCodec, PayloadKeyError, keyring_for
from settings import Settings, SettingsError


def _payloads(body: Any) -> list[Payload]:
    items = body.get("payloads") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("body must be {'payloads': [...]}")
    out = []
    for item in items:
        meta = {k: base64.b64decode(v) for k, v in (item.get("metadata") or {}).items()}
        out.append(Payload(metadata=meta, data=base64.b64decode(item.get("data") or "")))
    return out


def _json(payloads: list[Payload]) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def create_codec_app(settings: Settings, codec: EncryptionCodec) -> FastAPI:
    app = FastAPI(title="FastTrack payload codec", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.ui_origin],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    secret = settings.portal_admin_token
    token = secret.get_secret_value() if secret else None

    async def handle(request: Request, encode: bool) -> JSONResponse:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given, f"Bearer {token}"):
                return JSONResponse(
                    {"error": "unauthorized", "message": "operator token required"}, 401
                )
        try:
            payloads = _payloads(await request.json())
            done = await (codec.encode(payloads) if encode else codec.decode(payloads))
        except Exception as err:  # malformed input or a key we do not hold: one clear line
            return JSONResponse({"error": "invalid_body", "message": str(err)[:200]}, 400)
        return JSONResponse(_json(done))

    @app.post("/encode")
    async def encode(request: Request) -> JSONResponse:
        return await handle(request, encode=True)

    @app.post("/decode")
    async def decode(request: Request) -> JSONResponse:
        return await handle(request, encode=False)

    return app


class Background:
    """An ASGI app served by uvicorn on the running event loop, until `stop`."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        # `_serve` is `serve` without uvicorn's own signal capture: the caller owns Ctrl-C.
        self.task = asyncio.get_running_loop().create_task(self.server._serve())

    async def stop(self, timeout: float = 5.0) -> None:
        """Let uvicorn shut down (lifespan included) instead of cancelling it mid-way."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, timeout)
        except (TimeoutError, asyncio.CancelledError, OSError, SystemExit):
            self.task.cancel()


def serve_in_background(app: Any, host: str, port: int) -> Background:
    return Background(app, host, port)


def codec_in_background(settings: Settings) -> tuple[Background, str]:
    """The codec server for a local Web UI (`make demo`, `worker.py --dev`) and its URL."""
    app = create_codec_app(settings, EncryptionCodec(keyring_for(settings)))
    return serve_in_background(app, "127.0.0.1", settings.codec_port), codec_url(settings)


def codec_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.codec_port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Temporal UI codec server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        ring = keyring_for(settings)
    except (SettingsError, PayloadKeyError) as err:
        print(f"codec_server: {err}", file=sys.stderr)
        return 2
    if settings.portal_admin_token is None:
        print("codec_server: PORTAL_ADMIN_TOKEN unset: open to local callers", file=sys.stderr)
    app = create_codec_app(settings, EncryptionCodec(ring))
    uvicorn.run(app, host=args.host, port=args.port or settings.codec_port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
