"""US and EU hosts: the client addresses the region's real host name, and the sandbox, playing a
workspace in one region, answers as Customer.io does for the other region's host.

A transport sends each request to the sandbox while keeping the original Host header, so what is
checked is the URL the client really built.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio import AppClient, Identifiers, Region, RegionMismatchError, TrackClient
from customerio_gcp.customerio.app import EmailRequest


class ToSandbox(httpx.BaseTransport):
    def __init__(self, sandbox_url: str) -> None:
        self._target = httpx.URL(sandbox_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self._target.host, port=self._target.port)
        return self._inner.handle_request(request)


@pytest.fixture
def eu_sandbox() -> Iterator[Sandbox]:
    with Sandbox(region="eu") as running:
        yield running


def routed(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(transport=ToSandbox(sandbox.url))


@pytest.mark.parametrize(
    ("region", "track_host", "app_host"),
    [(Region.US, "track.customer.io", "api.customer.io"), (Region.EU, "track-eu.customer.io", "api-eu.customer.io")],
)
def test_each_region_uses_its_hosts(region: Region, track_host: str, app_host: str) -> None:
    sandbox = Sandbox(region=region.value).start()
    try:
        creds = sandbox.credentials
        http = routed(sandbox)
        TrackClient.with_credentials(creds.site_id, creds.track_api_key, region=region, client=http).identify(
            Identifiers(id="u1"), {"a": 1}
        )
        AppClient.with_key(creds.app_api_key, region=region, client=http).send_email(
            EmailRequest(transactional_message_id=1, to="a@example.com", identifiers=Identifiers(id="u1"))
        )
        hosts = [r["host"] for r in SandboxControl(sandbox.url).requests(accepted_only=True)]
        assert hosts == [track_host, app_host]
    finally:
        sandbox.stop()


def test_an_eu_workspace_on_the_us_host_is_a_configuration_error(eu_sandbox: Sandbox) -> None:
    creds = eu_sandbox.credentials
    client = TrackClient.with_credentials(
        creds.site_id, creds.track_api_key, region=Region.US, client=routed(eu_sandbox)
    )
    with pytest.raises(
        RegionMismatchError, match=r"redirected to track-eu\.customer\.io: is the region setting right"
    ) as caught:
        client.identify(Identifiers(id="u1"), {"a": 1})
    assert caught.value.retryable  # waits for the setting to be fixed instead of dead-lettering the stream


def test_region_endpoint_reports_the_workspace_region(eu_sandbox: Sandbox) -> None:
    creds = eu_sandbox.credentials
    client = TrackClient.with_credentials(
        creds.site_id, creds.track_api_key, region=Region.EU, client=routed(eu_sandbox)
    )
    assert client.region()["region"] == "eu"
