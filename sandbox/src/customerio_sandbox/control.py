"""A small client for the sandbox's control endpoints, for tests, demos and scripts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from customerio_sandbox.faults import Faults


class SandboxControl:
    def __init__(self, url: str, *, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(base_url=url, timeout=10.0)

    def requests(self, operation: str | None = None, *, accepted_only: bool = False) -> list[dict[str, Any]]:
        params = {"operation": operation} if operation else {}
        rows: list[dict[str, Any]] = self._client.get("/_sandbox/requests", params=params).json()["requests"]
        return [r for r in rows if 200 <= r["status"] < 300] if accepted_only else rows

    def summary(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.get("/_sandbox/summary").json()
        return answer

    def person(self, identifier: str) -> dict[str, Any] | None:
        response = self._client.get("/_sandbox/people/" + quote(identifier, safe=""))
        return response.json() if response.status_code == 200 else None

    def events(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._client.get("/_sandbox/events").json()["events"]
        return rows

    def deliveries(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._client.get("/_sandbox/deliveries").json()["deliveries"]
        return rows

    def triggers(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._client.get("/_sandbox/triggers").json()["triggers"]
        return rows

    def set_faults(self, faults: Faults | dict[str, Any]) -> None:
        body = faults.to_dict() if isinstance(faults, Faults) else faults
        self._client.put("/_sandbox/faults", json=body).raise_for_status()

    def set_credentials(self, **keys: str) -> None:
        self._client.put("/_sandbox/credentials", json=keys).raise_for_status()

    def reset(self) -> None:
        self._client.post("/_sandbox/reset").raise_for_status()

    def close(self) -> None:
        self._client.close()
