"""A local stand-in for Secret Manager's REST API, enough for `access_secret_version`.

There is no Google emulator for Secret Manager; the official client speaks REST to this server
(`transport="rest"`), so the code path under test is the real client's. It counts accesses so
tests can see a cache hit from a fetch.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ACCESS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/]+)/versions/([^/:]+):access$")


class FakeSecretManager:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.accesses: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set(self, secret: str, value: str) -> None:
        with self._lock:
            self.values[secret] = value

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                match = _ACCESS.match(self.path.split("?")[0])
                with fake._lock:
                    value = fake.values.get(match.group(2)) if match else None
                    if match:
                        fake.accesses[match.group(2)] = fake.accesses.get(match.group(2), 0) + 1
                if match is None or value is None:
                    self._send(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "not found"}})
                    return
                project, secret = match.group(1), match.group(2)
                self._send(
                    200,
                    {
                        "name": f"projects/{project}/secrets/{secret}/versions/1",
                        "payload": {"data": base64.b64encode(value.encode()).decode()},
                    },
                )

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
