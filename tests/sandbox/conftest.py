"""Fixtures for the sandbox's own tests: a sandbox on a free loopback port and raw HTTP clients.

These tests speak HTTP to the sandbox directly (no customerio_gcp client), so they state
Customer.io's behaviour as the sandbox implements it, independently of the runtime.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from customerio_sandbox import Sandbox, SandboxControl


def track_auth(box: Sandbox) -> dict[str, str]:
    pair = f"{box.credentials.site_id}:{box.credentials.track_api_key}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def app_auth(box: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {box.credentials.app_api_key}"}


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def ctl(box: Sandbox) -> Iterator[SandboxControl]:
    control = SandboxControl(box.url)
    yield control
    control.close()


@pytest.fixture
def track_http(box: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.url, headers=track_auth(box), timeout=5.0, trust_env=False) as client:
        yield client


@pytest.fixture
def app_http(box: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.url, headers=app_auth(box), timeout=5.0, trust_env=False) as client:
        yield client


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
