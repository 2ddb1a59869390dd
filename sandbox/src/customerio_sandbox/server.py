"""The sandbox's HTTP server (standard library, HTTP/1.1 keep-alive) and its control endpoints.

Control endpoints live under `/_sandbox/` and need no auth: the sandbox binds to loopback.

| Endpoint | Does |
|---|---|
| `GET /_sandbox/requests?operation=&status=&identifier=` | every recorded request (filters optional) |
| `GET /_sandbox/summary` | counts: people, events, deliveries, accepted requests by operation |
| `GET /_sandbox/people/{identifier}` | one person's attributes, suppression, devices |
| `GET /_sandbox/events` · `/_sandbox/deliveries` · `/_sandbox/triggers` | what was accepted |
| `GET /_sandbox/applied?operation=&key=&key_field=` | applied operations counted per key |
| `PUT /_sandbox/faults` | inject faults (see `Faults`) |
| `GET`/`PUT /_sandbox/limits` | Customer.io's rate limits (see `RateLimits`; PUT merges) |
| `GET`/`PUT`/`DELETE /_sandbox/webhooks` | Customer.io's reporting-webhook sender (see `WebhookConfig`) |
| `POST /_sandbox/webhooks/flush` | wait until every queued webhook was sent or dropped (`{"timeout_s": 30}`) |
| `PUT /_sandbox/credentials` | change the keys, as a key rotation would |
| `POST /_sandbox/reset` | forget everything, clear faults |
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from customerio_sandbox.api import Answer, Credentials, SandboxApi
from customerio_sandbox.faults import FaultConfigError, FaultInjector, Faults
from customerio_sandbox.ratelimits import Clock, RateLimitConfigError, RateLimiter, RateLimits
from customerio_sandbox.state import Workspace
from customerio_sandbox.webhooks import WebhookConfig, WebhookConfigError, WebhookSender

SandboxCredentials = Credentials
MAX_BODY = 5_000_000


class Sandbox:
    """Runs the sandbox in a background thread: `with Sandbox() as sandbox: sandbox.url`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        credentials: Credentials | None = None,
        region: str = "us",
        rate_limits: RateLimits | dict[str, Any] | None = None,
        clock: Clock = time.monotonic,
        webhooks: WebhookConfig | dict[str, Any] | None = None,
        wall_clock: Clock = time.time,
        webhook_clock: Clock = time.monotonic,
    ) -> None:
        """`rate_limits`: Customer.io's limits by default (`{"enabled": False}` switches them off);
        `clock`: monotonic seconds for the rate-limit buckets (inject one to test without waiting);
        `webhooks`: send reporting webhooks from the start (else `PUT /_sandbox/webhooks`);
        `wall_clock`: unix seconds for the webhooks' `timestamp` and `X-CIO-Timestamp`;
        `webhook_clock`: monotonic seconds for the webhooks' retry delays and maximum age (inject
        one to test those windows without waiting)."""
        self.credentials = credentials or Credentials()
        self.workspace = Workspace()
        self.faults = FaultInjector()
        if isinstance(rate_limits, dict):
            rate_limits = RateLimits().updated(rate_limits)
        self._initial_limits = rate_limits or RateLimits()
        self.limiter = RateLimiter(self._initial_limits, clock)
        self.webhooks = WebhookSender(wall_clock, webhook_clock)
        if webhooks is not None:
            self.webhooks.configure(
                webhooks if isinstance(webhooks, WebhookConfig) else WebhookConfig.from_dict(webhooks)
            )
        self.api = SandboxApi(self.workspace, self.faults, self.credentials, region, self.limiter, self.webhooks)
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sandbox:
        self._serving = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="customerio-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        if self._serving:  # shutdown() would wait forever for a loop that never ran
            self._server.shutdown()
            self._serving = False
        self._server.server_close()
        self.webhooks.stop()

    def reset(self) -> None:
        fresh = Workspace()
        self.workspace = fresh
        self.api.workspace = fresh
        self.faults.configure(Faults())
        self.limiter.configure(self._initial_limits)
        self.webhooks.reset()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- control ----------------------------------------------------------------------------

    def control(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        ws = self.workspace
        parts = path.strip("/").split("/")[1:]
        if method == "GET" and parts == ["requests"]:
            with ws.lock:
                rows = [r.to_dict() for r in ws.requests]
            for key in ("operation", "status", "api"):
                if key in query:
                    rows = [r for r in rows if str(r[key]) == query[key][0]]
            if "identifier" in query:  # the requests about one person, v1 or v2
                rows = [r for r in rows if query["identifier"][0] in r["people"]]
            return Answer(200, {"requests": rows})
        if method == "GET" and parts == ["summary"]:
            return Answer(200, ws.summary())
        if method == "GET" and len(parts) == 2 and parts[0] == "people":
            person = ws.snapshot_person(unquote(parts[1]))
            return Answer(200, person) if person else Answer(404, {"error": "no such person"})
        if method == "GET" and parts and parts[0] in ("events", "deliveries", "triggers") and len(parts) == 1:
            with ws.lock:
                return Answer(200, {parts[0]: list(getattr(ws, parts[0]))})
        if method == "GET" and parts == ["applied"]:
            one = {k: v[0] for k, v in query.items()}
            rows = ws.applied_by_key(one.get("operation"), one.get("key"), one.get("key_field"))
            return Answer(200, {"applied": rows, "total": sum(r["count"] for r in rows)})
        if method == "PUT" and parts == ["faults"]:
            try:
                self.faults.configure(Faults.from_dict(body or {}))
            except FaultConfigError as error:
                return Answer(400, {"error": str(error)})
            return Answer(200, self.faults.faults.to_dict())
        if method == "GET" and parts == ["faults"]:
            return Answer(200, self.faults.faults.to_dict())
        if method == "PUT" and parts == ["limits"]:
            try:
                self.limiter.configure(self.limiter.limits.updated(body or {}))
            except (RateLimitConfigError, TypeError) as error:
                return Answer(400, {"error": str(error)})
            return Answer(200, self.limiter.snapshot())
        if method == "GET" and parts == ["limits"]:
            return Answer(200, self.limiter.snapshot())
        if parts and parts[0] == "webhooks":
            return self._control_webhooks(method, parts[1:], body)
        if method == "PUT" and parts == ["credentials"]:
            for key, value in (body or {}).items():
                if hasattr(self.credentials, key):
                    setattr(self.credentials, key, str(value))
            return Answer(200, asdict(self.credentials))
        if method == "POST" and parts == ["reset"]:
            self.reset()
            return Answer(200, {"reset": True})
        return Answer(404, {"error": "unknown control endpoint"})

    def _control_webhooks(self, method: str, rest: list[str], body: Any) -> Answer:
        if method == "PUT" and not rest:
            try:
                self.webhooks.configure(WebhookConfig.from_dict(body or {}))
            except WebhookConfigError as error:
                return Answer(400, {"error": str(error)})
            return Answer(200, self.webhooks.snapshot())
        if method == "GET" and not rest:
            return Answer(200, self.webhooks.snapshot())
        if method == "DELETE" and not rest:
            self.webhooks.configure(None)
            return Answer(200, self.webhooks.snapshot())
        if method == "POST" and rest == ["flush"]:
            timeout = float((body or {}).get("timeout_s", 30.0))
            drained = self.webhooks.flush(min(max(timeout, 0.0), 300.0))
            return Answer(200 if drained else 504, {"drained": drained, **self.webhooks.snapshot()})
        return Answer(404, {"error": "unknown control endpoint"})


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "customerio-sandbox/0.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes; without NODELAY, delayed ACKs add ~40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(Answer(413, {"meta": {"error": "request too large"}}))
                return
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            if split.path.startswith("/_sandbox/"):
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    self._reply(Answer(400, {"error": "body is not JSON"}))
                    return
                self._reply(sandbox.control(self.command, split.path, parse_qs(split.query), body))
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            host = headers.get("host", "")
            self._reply(sandbox.api.handle(self.command, split.path, host, headers, raw))

        def _reply(self, answer: Answer) -> None:
            if answer.reset:
                self._reset()
                return
            payload, content_type = answer.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _reset(self) -> None:
            """Close without an answer, with an RST (SO_LINGER 0) rather than a polite FIN."""
            self.close_connection = True
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.close()

        do_GET = do_PUT = do_POST = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: request lines would carry identifiers (emails) in their paths."""

    return Handler
