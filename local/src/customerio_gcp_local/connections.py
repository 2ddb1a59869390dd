"""POSTs to a local endpoint over one keep-alive HTTP/1.1 connection per calling thread.

The local pushers (`pusher.PullPusher`, the benchmarks' `FanOutPusher`) keep many requests in
flight from one process. Through a shared httpx client, the connection pool's bookkeeping (a
lock, and a scan of every connection per request) grew with the pool and, at 80 connections,
cost more CPU per message than the function being pushed to: measured 3.9 ms of the pushing
process's CPU per message, against about 0.8 ms this way. `http.client` per thread shares no
lock between threads.
"""

from __future__ import annotations

import http.client
import select
import threading
import time
from urllib.parse import urlsplit

MAX_IDLE_S = 1.0
"""Reuse a connection idle for at most this long: gunicorn (functions-framework's server) closes
keep-alive connections idle for 2 s, checking from its event loop, so a request sent near that
mark can arrive on a socket it is closing; retries after a backoff of 1 s or more start afresh."""

ConnectionFailed = (OSError, http.client.HTTPException)
"""What a failed request raises: refused, reset, closed without an answer, timed out."""


class ThreadConnections:
    def __init__(self, endpoint: str, *, timeout: float) -> None:
        split = urlsplit(endpoint)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80
        self.path = split.path or "/"
        self.timeout = timeout
        self._local = threading.local()

    def post_json(self, body: bytes) -> int:
        """POST `body` (JSON) and read the whole answer; its status. Raises one of
        `ConnectionFailed` (the connection is then dropped; the next call opens a fresh one)."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        idle = time.monotonic() - getattr(self._local, "used_at", 0.0)
        if connection is not None and (idle > MAX_IDLE_S or _closed_by_peer(connection)):
            # The server closes it, or is about to (gunicorn's keep-alive timeout): a request sent
            # as it does so is lost unread and would count as a failed delivery attempt.
            connection.close()
            connection = None
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
        except ConnectionFailed:
            connection.close()
            self._local.connection = None
            raise
        if response.will_close:
            connection.close()
            self._local.connection = None
        self._local.used_at = time.monotonic()
        return response.status


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed by the server (or holds junk):
    either way it must not carry the next request (httpx checks the same before reusing one)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
