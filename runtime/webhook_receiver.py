"""A small webhook receiver for the demo and the tests: accepts POSTs on 127.0.0.1, checks
each signature when it knows the secret, keeps what it received, and lists it as JSON on
`GET /`. Not for production use (plain http, in memory)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Received:
    event_id: str
    signature: str
    body: bytes
    verified: bool | None  # None: the secret is not known here

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class WebhookReceiver:
    secret: str | None = None
    status: int = 200  # what every POST is answered with
    headers: dict[str, str] = field(default_factory=dict)  # sent with that answer
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self, port: int = 0) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signature = self.headers.get(SIGNATURE_HEADER, "")
                verified = None
                if receiver.secret is not None:
                    verified = verify(receiver.secret, signature, body, int(time.time()))
                with receiver._lock:
                    receiver.received.append(
                        Received(self.headers.get(EVENT_ID_HEADER, ""), signature, body, verified)
                    )
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                with receiver._lock:
                    shown = [
                        {"event_id": r.event_id, "verified": r.verified, "event": r.json()}
                        for r in receiver.received
                    ]
                data = json.dumps(shown, indent=2).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json() for r in self.received]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
