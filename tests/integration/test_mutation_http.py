"""How the Customer.io clients reach Customer.io: which host, with which HTTP client, headers and
connection pool. Cases mutation testing (`make mutate`) showed untested. A local HTTP server
stands in for Customer.io where the default client must really connect; `httpx.MockTransport`
where only the URL matters (nothing here reaches beyond 127.0.0.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from customerio_gcp_local.processes import free_port

from customerio_gcp.customerio import AppClient, ConnectionFailedError, Identifiers, TrackClient
from customerio_gcp.customerio.regions import Region
from customerio_gcp.customerio.transport import USER_AGENT, HttpCaller, RetryPolicy
from customerio_gcp.errors import Error

WHO = Identifiers(id="u1")


class Recorder(ThreadingHTTPServer):
    """Answers 200 `{}`; records headers, connections and concurrency. With `hold` set, each
    request waits until `hold` requests are in flight at once (8 s at most), then 0.5 s more,
    so a client that opens more connections than that shows it."""

    daemon_threads = True
    request_queue_size = 128  # the burst's connections all wait in the listen backlog, none is refused

    def __init__(self) -> None:
        self.hold = 0
        self.user_agents: list[str | None] = []
        self.peers: set[tuple[str, int]] = set()
        self.in_flight = self.most_in_flight = 0
        self.changed = threading.Condition()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's pool decides what is reused
    server: Recorder

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        with server.changed:
            server.user_agents.append(self.headers.get("User-Agent"))
            server.peers.add(self.client_address)
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
            server.changed.notify_all()
            if server.hold:
                server.changed.wait_for(lambda: server.most_in_flight >= server.hold, timeout=8)
        if server.hold:
            time.sleep(0.5)
        with server.changed:
            server.in_flight -= 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def basic(_stale_since: float | None) -> httpx.Auth:
    return httpx.BasicAuth("site", "key")


def test_a_client_given_is_the_one_used_and_the_region_picks_each_api_host() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    given = httpx.Client(transport=httpx.MockTransport(answer))
    # First through a base URL where nothing listens: only the client given can answer.
    closed = f"http://127.0.0.1:{free_port()}"
    TrackClient(basic, base_url=closed, client=given, retry=RetryPolicy(attempts=1)).identify(WHO, {})
    assert seen == [f"{closed}/api/v1/customers/u1"]
    for region in Region:
        TrackClient(basic, region=region, client=given).identify(WHO, {})
        assert seen[-1].startswith(region.track_url + "/api/v1/")
        AppClient(basic, region=region, client=given)._http.request("PUT", "/v1/x", json={}, idempotent=True)
        assert seen[-1] == region.app_url + "/v1/x"


def test_a_trailing_slash_of_the_base_url_is_dropped() -> None:
    seen: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(lambda r: (seen.append(str(r.url)), httpx.Response(200))[1]))
    http = HttpCaller("http://127.0.0.1:1/base//", basic, client=client)
    assert http.base_url == "http://127.0.0.1:1/base"
    http.request("PUT", "/p", json={}, idempotent=True)
    assert seen == ["http://127.0.0.1:1/base/p"]
    assert HttpCaller("http://127.0.0.1:1/apiX/", basic, client=client).base_url == "http://127.0.0.1:1/apiX"


def test_the_default_client_names_itself(recorder: Recorder) -> None:
    client = TrackClient(basic, base_url=recorder.url, retry=RetryPolicy(attempts=1))
    client.identify(WHO, {})
    client.close()
    assert recorder.user_agents == [USER_AGENT]
    with pytest.raises(ConnectionFailedError):  # and really connects: nothing listens there
        TrackClient(basic, base_url=f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=1)).identify(WHO, {})


def test_the_default_pool_opens_at_most_32_connections_and_keeps_16(recorder: Recorder) -> None:
    client = TrackClient(basic, base_url=recorder.url, retry=RetryPolicy(attempts=1))

    def burst(n: int) -> None:
        recorder.most_in_flight, recorder.hold = 0, 32
        threads = [threading.Thread(target=client.identify, args=(Identifiers(id=f"u{i}"), {})) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    burst(33)  # one more than the pool: the 33rd waits for a connection
    assert recorder.most_in_flight == 32 and len(recorder.user_agents) == 33
    opened = len(recorder.peers)
    burst(32)  # 16 connections were kept open for reuse; 16 more are opened
    client.close()
    assert len(recorder.peers) - opened == 16


def test_an_error_shows_its_reason_in_its_repr() -> None:
    assert repr(Error("refused by the server")) == "Error('refused by the server')"
