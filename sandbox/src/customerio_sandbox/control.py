"""A small client for the sandbox's control endpoints, for tests, demos and scripts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from customerio_sandbox.faults import Faults


class SandboxControl:
    def __init__(self, url: str, *, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(base_url=url, timeout=10.0, trust_env=False)

    def requests(
        self, operation: str | None = None, *, accepted_only: bool = False, identifier: str | None = None
    ) -> list[dict[str, Any]]:
        """Recorded requests, oldest first; `identifier`: only those naming that person (in a v1
        path, or an operation of a v2 batch: `people` lists whom each request names)."""
        params = {k: v for k, v in {"operation": operation, "identifier": identifier}.items() if v}
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

    def applied(
        self, operation: str | None = None, *, key: str | None = None, key_field: str | None = None
    ) -> list[dict[str, Any]]:
        """Operations that changed the workspace, grouped per key: `[{operation, key, count, faults}]`.
        A send's key is a hash of its body (a retry of the same request has the same key);
        `key_field="message_data.key"` groups by a field of the request instead."""
        params = {k: v for k, v in {"operation": operation, "key": key, "key_field": key_field}.items() if v}
        rows: list[dict[str, Any]] = self._client.get("/_sandbox/applied", params=params).json()["applied"]
        return rows

    def applied_count(self, operation: str | None = None, **by: str) -> dict[Any, int]:
        """`{key: times applied}`, e.g. `applied_count("send_email", key_field="message_data.key")`."""
        return {row["key"]: row["count"] for row in self.applied(operation, **by)}

    def faults(self) -> dict[str, Any]:
        """The faults in force; a scripted fault's `count` is what is left of it."""
        answer: dict[str, Any] = self._client.get("/_sandbox/faults").json()
        return answer

    def set_faults(self, faults: Faults | dict[str, Any]) -> None:
        body = faults.to_dict() if isinstance(faults, Faults) else faults
        self._client.put("/_sandbox/faults", json=body).raise_for_status()

    def limits(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.get("/_sandbox/limits").json()
        return answer

    def set_limits(self, **changes: Any) -> dict[str, Any]:
        """Change some rate limits (the others keep theirs), e.g. `set_limits(enabled=False)`."""
        response = self._client.put("/_sandbox/limits", json=changes)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def set_webhooks(self, url: str, signing_key: str, **settings: Any) -> dict[str, Any]:
        """Send reporting webhooks to `url` (settings: rates, keep_original_timestamp, retry, seed)."""
        response = self._client.put("/_sandbox/webhooks", json={"url": url, "signing_key": signing_key, **settings})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def webhooks(self) -> dict[str, Any]:
        """`{configured, config, queued, sent, failed, dropped, attempts, events: [...]}`."""
        answer: dict[str, Any] = self._client.get("/_sandbox/webhooks").json()
        return answer

    def flush_webhooks(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the webhook queue is empty; raises if `timeout` passes first."""
        response = self._client.post("/_sandbox/webhooks/flush", json={"timeout_s": timeout}, timeout=timeout + 10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def stop_webhooks(self) -> None:
        self._client.delete("/_sandbox/webhooks").raise_for_status()

    def set_credentials(self, **keys: str) -> None:
        self._client.put("/_sandbox/credentials", json=keys).raise_for_status()

    def reset(self) -> None:
        self._client.post("/_sandbox/reset").raise_for_status()

    def close(self) -> None:
        self._client.close()
