"""The sandbox's Customer.io endpoints: auth, routing, validation, effects and documented answers.

Read top to bottom: `SandboxApi.handle` authenticates, injects faults, routes to one handler per
endpoint; each handler validates like Customer.io documents and changes the `Workspace`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ulid import ULID

from customerio_sandbox import limits, ratelimits
from customerio_sandbox.faults import APPLY_THEN_KINDS, Decision, FaultInjector
from customerio_sandbox.state import Workspace
from customerio_sandbox.webhooks import Delivery, WebhookSender

TRACK_HOSTS = {"us": "track.customer.io", "eu": "track-eu.customer.io"}
APP_HOSTS = {"us": "api.customer.io", "eu": "api-eu.customer.io"}
V2_ACTIONS = {
    "identify", "event", "page", "screen", "delete", "suppress", "unsuppress", "merge",
    "add_device", "delete_device", "add_relationships", "delete_relationships",
}  # fmt: skip
RESERVED_ATTRIBUTES = {"_timestamp", "_update"}

Route = Callable[[Any], tuple["Answer", str]]


@dataclass
class Credentials:
    site_id: str = "sandbox-site"
    track_api_key: str = "sandbox-track-key"
    app_api_key: str = "sandbox-app-key"


@dataclass
class Answer:
    status: int
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a plain-text body, as Customer.io sends for some 401s
    reset: bool = False
    """Send nothing: reset the connection (RST) instead of answering."""
    content_type: str | None = None

    def encode(self) -> tuple[bytes, str]:
        if self.text is not None:
            return self.text.encode(), self.content_type or "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), self.content_type or "application/json"


class Refused(Exception):  # noqa: N818 - a control-flow signal carrying the answer
    def __init__(self, answer: Answer, operation: str = "") -> None:
        super().__init__(answer.status)
        self.answer = answer
        self.operation = operation


def track_error(message: str, status: int = 400) -> Refused:
    return Refused(Answer(status, {"meta": {"errors": [message]}}))


def app_error(message: str, status: int = 400) -> Refused:
    return Refused(Answer(status, {"meta": {"error": message}}))


class SandboxApi:
    def __init__(
        self,
        workspace: Workspace,
        faults: FaultInjector,
        credentials: Credentials,
        region: str,
        limiter: ratelimits.RateLimiter | None = None,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.workspace = workspace
        self.webhooks = webhooks
        self.limiter = limiter or ratelimits.RateLimiter(ratelimits.RateLimits(enabled=False))
        self.faults = faults
        self.credentials = credentials
        self.region = region
        self._local = threading.local()  # the fault of the request this thread is handling

    # --- entry ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, host: str, headers: dict[str, str], raw: bytes) -> Answer:
        started = time.time()
        api, operation, route = self._route(method, path)
        self._local.fault = None
        decision = Decision()
        body_seen = _safe_json(raw)
        people = people_named(path, body_seen)
        log = {"method": method, "path": path, "host": host, "api": api, "operation": operation,
               "body": body_seen, "started": started, "people": people}  # fmt: skip
        try:
            if route is None:
                raise Refused(Answer(404, {"meta": {"error": "not found"}}))
            self._check_host(api, host)
            self._authenticate(api, headers.get("authorization", ""))
            self._rate_limit(api, operation, path)
            decision = self.faults.decide(path, frozenset(people))
            if decision.delay:
                time.sleep(decision.delay)
            if decision.status is not None:
                extra = {"Retry-After": f"{decision.retry_after:g}"} if decision.retry_after is not None else {}
                message = "rate limited" if decision.status == 429 else f"injected {decision.status}"
                body = {"meta": {"error": message}}
                raise Refused(Answer(decision.status, body, extra, text=decision.text), "fault")
            if decision.kind == "reset_before":
                self.workspace.record(**log, status=0, answered=None, note="fault: reset before applying",
                                      fault="reset_before")  # fmt: skip
                return Answer(0, reset=True)
            self._local.fault = decision.kind
            body = _parse_body(raw, method)
            # Applied and recorded in one step: whoever sees the effect (a test waiting for a
            # person) also sees the request that made it.
            with self.workspace.lock:
                answer, note = route(body)
                if self._local.fault in APPLY_THEN_KINDS:
                    return self._replace(decision, answer, note, log)
                self.workspace.record(**log, status=answer.status, note=note)
                return answer
        except Refused as refused:
            if self._local.fault in APPLY_THEN_KINDS:
                return self._replace(decision, refused.answer, refused.operation, log)
            self.workspace.record(**log, status=refused.answer.status, note=refused.operation)
            return refused.answer

    def _rate_limit(self, api: str, operation: str, path: str) -> None:
        """Over Customer.io's rate limit: 429 with Retry-After, before anything is applied."""
        parts = path.split("?")[0].strip("/").split("/")
        broadcast_id = unquote(parts[2]) if operation == "trigger_broadcast" else None
        key = ratelimits.surface(api, operation, broadcast_id)
        wait = self.limiter.take(key) if key else 0.0
        if wait > 0:
            headers = {"Retry-After": ratelimits.retry_after(wait)} if self.limiter.limits.retry_after_header else {}
            raise Refused(Answer(429, {"meta": {"error": "rate limit exceeded"}}, headers), f"rate_limit:{key}")

    def _replace(self, decision: Decision, answer: Answer, note: str, log: dict[str, Any]) -> Answer:
        """The operation ran (and was logged with its real status); the client gets the fault."""
        kind = decision.kind
        assert kind is not None
        if kind == "apply_then_status":
            assert decision.after_status is not None
            body = {"meta": {"error": f"injected {decision.after_status} after applying"}}
            replaced = Answer(decision.after_status, body, text=decision.text)
        elif kind == "apply_then_reset":
            replaced = Answer(0, reset=True)
        else:
            replaced = Answer(200, text=decision.text, content_type="application/json")
        answered = None if replaced.reset else replaced.status
        note = "; ".join(filter(None, [note, f"fault: answer replaced ({kind})"]))
        self.workspace.record(**log, status=answer.status, answered=answered, note=note, fault=kind)
        return replaced

    def _route(self, method: str, path: str) -> tuple[str, str, Route | None]:
        parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/")]
        if parts[:2] == ["api", "v1"]:
            return self._route_v1(method, parts[2:])
        if parts[:2] == ["api", "v2"] and method == "POST" and len(parts) == 3:
            if parts[2] == "entity":
                return "track_v2", "v2_entity", self.v2_entity
            if parts[2] == "batch":
                return "track_v2", "v2_batch", self.v2_batch
        if parts[:1] == ["v1"] and method == "POST":
            if len(parts) == 3 and parts[1] == "send" and parts[2] in ("email", "push", "sms"):
                channel = parts[2]
                return "app", f"send_{channel}", lambda body: self.send(channel, body)
            if len(parts) == 4 and parts[1] == "campaigns" and parts[3] == "triggers":
                return "app", "trigger_broadcast", lambda body: self.trigger(parts[2], body)
        return "unknown", "unknown", None

    def _route_v1(self, method: str, rest: list[str]) -> tuple[str, str, Route | None]:
        api = "track_v1"
        if rest == ["accounts", "region"] and method == "GET":
            return api, "region", lambda _body: (Answer(200, self._region_answer()), "")
        if rest == ["events"] and method == "POST":
            return api, "anonymous_event", self.anonymous_event
        if rest == ["merge_customers"] and method == "POST":
            return api, "merge", self.merge
        if len(rest) >= 2 and rest[0] == "customers":
            who = rest[1]
            tail = rest[2:]
            table: dict[tuple[str, tuple[str, ...]], tuple[str, Route]] = {
                ("PUT", ()): ("identify", lambda body: self.identify(who, body)),
                ("DELETE", ()): ("delete", lambda _b: self.delete(who)),
                ("POST", ("events",)): ("event", lambda body: self.event(who, body)),
                ("POST", ("suppress",)): ("suppress", lambda _b: self.set_suppressed(who, True)),
                ("POST", ("unsuppress",)): ("unsuppress", lambda _b: self.set_suppressed(who, False)),
                ("PUT", ("devices",)): ("add_device", lambda body: self.add_device(who, body)),
            }
            if len(tail) == 2 and tail[0] == "devices" and method == "DELETE":
                return api, "remove_device", lambda _b: self.remove_device(who, tail[1])
            found = table.get((method, tuple(tail)))
            if found:
                return api, found[0], found[1]
        return api, "unknown", None

    def _applied(self, operation: str, key: str, request: Any) -> str | None:
        """Log one operation that changed (or would have changed) the workspace; returns the fault
        that replaces this request's answer, if any. Call with the workspace lock held."""
        fault: str | None = getattr(self._local, "fault", None)
        self.workspace.applied.append({"operation": operation, "key": key, "fault": fault, "request": request})
        return fault

    def _check_host(self, api: str, host: str) -> None:
        """Emulate region routing, for requests addressed to a real Customer.io host name."""
        hosts = APP_HOSTS if api == "app" else TRACK_HOSTS
        name = host.split(":")[0]
        if name not in hosts.values() or name == hosts[self.region]:
            return
        if self.region == "eu":
            raise Refused(Answer(301, {}, {"Location": f"https://{hosts['eu']}/"}))
        raise Refused(Answer(401, text="Unauthorized"))

    def _authenticate(self, api: str, header: str) -> None:
        if api == "app":
            expected = f"Bearer {self.credentials.app_api_key}"
            if not hmac.compare_digest(header.encode(), expected.encode()):
                raise app_error("Unauthorized request", 401)
            return
        pair = f"{self.credentials.site_id}:{self.credentials.track_api_key}".encode()
        expected = "Basic " + base64.b64encode(pair).decode()
        if not hmac.compare_digest(header.encode(), expected.encode()):
            raise Refused(Answer(401, text="Unauthorized"))

    def _region_answer(self) -> dict[str, Any]:
        return {"url": f"https://{TRACK_HOSTS[self.region]}", "region": self.region, "environment_id": 1}

    # --- Track v1 ---------------------------------------------------------------------------

    def identify(self, who: str, body: Any) -> tuple[Answer, str]:
        _check_identifier(who)
        attributes = _object(body, "body")
        _check_attributes({k: v for k, v in attributes.items() if k not in RESERVED_ATTRIBUTES})
        self._refuse_if_rejected(who)
        with self.workspace.lock:
            person = self.workspace.person(who, create=not attributes.get("_update"))
            if person is None:
                return Answer(200), "update-only for a missing person: ignored"
            person.attributes.update({k: v for k, v in attributes.items() if k not in RESERVED_ATTRIBUTES})
            person.updated_at = int(attributes.get("_timestamp") or time.time())
            person.identifies += 1
            self._applied("identify", who, attributes)
        return Answer(200), ""

    def delete(self, who: str) -> tuple[Answer, str]:
        _check_identifier(who)
        with self.workspace.lock:
            self.workspace.people.pop(who, None)
            self.workspace.deleted.add(who)
            self._applied("delete", who, None)
        return Answer(200), ""

    def set_suppressed(self, who: str, suppressed: bool) -> tuple[Answer, str]:
        _check_identifier(who)
        with self.workspace.lock:
            person = self.workspace.person(who)
            assert person is not None
            person.suppressed = suppressed
            self._applied("suppress" if suppressed else "unsuppress", who, None)
        return Answer(200), ""

    def add_device(self, who: str, body: Any) -> tuple[Answer, str]:
        _check_identifier(who)
        device = _object(_object(body, "body").get("device"), "device")
        if not isinstance(device.get("id"), str) or not device["id"]:
            raise track_error("device.id is required")
        if device.get("platform") not in ("ios", "android"):
            raise track_error("device.platform must be ios or android")
        with self.workspace.lock:
            person = self.workspace.person(who)
            assert person is not None
            person.devices[device["id"]] = device
            self._applied("add_device", who, device)
        return Answer(200), ""

    def remove_device(self, who: str, token: str) -> tuple[Answer, str]:
        with self.workspace.lock:
            person = self.workspace.person(who, create=False)
            if person is not None:
                person.devices.pop(token, None)
        return Answer(200), ""

    def event(self, who: str, body: Any) -> tuple[Answer, str]:
        _check_identifier(who)
        event = _object(body, "body")
        self._refuse_if_rejected(who)
        _check_event(event)
        if event.get("type", "event") not in ("event", "page", "screen"):
            raise track_error("type must be event, page or screen")
        return self._accept_event(event | {"customer": who})

    def anonymous_event(self, body: Any) -> tuple[Answer, str]:
        event = _object(body, "body")
        if not isinstance(event.get("anonymous_id"), str) or not event["anonymous_id"]:
            raise track_error("anonymous_id is required")
        _check_event(event)
        return self._accept_event(event)

    def _accept_event(self, event: dict[str, Any]) -> tuple[Answer, str]:
        with self.workspace.lock:
            event_id = event.get("id")
            if event_id is not None:
                if event_id in self.workspace.event_ids:
                    return Answer(200), "duplicate event id: ignored"
                self.workspace.event_ids.add(event_id)
            self.workspace.events.append(event)
            self._applied("event", str(event_id) if event_id is not None else content_key(event), event)
        return Answer(200), ""

    def merge(self, body: Any) -> tuple[Answer, str]:
        request = _object(body, "body")
        primary = _v1_person(request.get("primary"), "primary")
        secondary = _v1_person(request.get("secondary"), "secondary")
        with self.workspace.lock:
            target = self.workspace.person(primary, create=False)
            if target is None:
                raise track_error("primary person does not exist")
            merged = self.workspace.people.pop(secondary, None)
            if merged is not None:
                target.attributes = merged.attributes | target.attributes
                target.devices.update(merged.devices)
            self.workspace.deleted.add(secondary)
            self._applied("merge", f"{primary}<-{secondary}", request)
        return Answer(200), ""

    def _refuse_if_rejected(self, identifier: str) -> None:
        if self.faults.rejects(identifier):
            raise track_error("rejected by sandbox fault configuration")

    # --- Track v2 ---------------------------------------------------------------------------

    def v2_entity(self, body: Any) -> tuple[Answer, str]:
        operation = _object(body, "body")
        problem = self._v2_problem(operation)
        if problem:
            return Answer(400, {"errors": [problem]}), ""
        return Answer(200), self._v2_apply(operation)

    def v2_batch(self, body: Any) -> tuple[Answer, str]:
        request = _object(body, "body")
        batch = request.get("batch")
        if not isinstance(batch, list):
            return Answer(
                400, {"errors": [{"reason": "invalid", "field": "batch", "message": "batch must be a list"}]}
            ), ""
        size = limits.json_size(request)
        if size > limits.V2_BATCH_MAX_BYTES:
            return Answer(
                400, {"errors": [{"reason": "too_large", "field": "batch", "message": "request over 500 KB"}]}
            ), ""
        errors = []
        notes = []
        for index, operation in enumerate(batch):
            problem = self._v2_problem(operation)
            if problem:
                errors.append({"batch_index": index, **problem})
            else:
                note = self._v2_apply(operation)
                if note:
                    notes.append(f"{index}: {note}")
        if errors:
            return Answer(207, {"errors": errors}), "; ".join(notes)
        return Answer(200), "; ".join(notes)

    def _v2_problem(self, op: Any) -> dict[str, str] | None:
        if not isinstance(op, dict):
            return _problem("invalid", "", "operation must be an object")
        if limits.json_size(op) > limits.V2_OPERATION_MAX_BYTES:
            return _problem("too_large", "", "operation over 32 KB")
        if op.get("type") not in ("person", "object", "delivery"):
            return _problem("invalid", "type", "unknown type")
        if op.get("action") not in V2_ACTIONS:
            return _problem("invalid", "action", "unknown action")
        if op["type"] != "person":
            return None
        identifiers = op.get("identifiers")
        keys = ("id", "email", "phone", "cio_id")
        if not isinstance(identifiers, dict) or len([k for k in keys if identifiers.get(k)]) != 1:
            return _problem("invalid", "identifiers", "exactly one of id, email, phone, cio_id")
        who = str(next(identifiers[k] for k in keys if identifiers.get(k)))
        if len(who.encode()) > limits.IDENTIFIER_MAX_BYTES:
            return _problem("too_large", "identifiers", "identifier over 150 bytes")
        if self.faults.rejects(who):
            return _problem("rejected", "identifiers", "rejected by sandbox fault configuration")
        try:
            if op["action"] == "identify":
                _check_attributes(_object(op.get("attributes", {}), "attributes"))
            if op["action"] in ("event", "page", "screen"):
                _check_event({"name": op.get("name"), "id": op.get("id"), "data": op.get("attributes", {})})
        except Refused as refused:
            return _problem("invalid", "attributes", refused.answer.body["meta"]["errors"][0])
        return None

    def _v2_apply(self, op: dict[str, Any]) -> str:
        if op["type"] != "person":
            return ""
        who = str(next(v for k, v in op["identifiers"].items() if v))
        action = op["action"]
        with self.workspace.lock:
            if action == "identify":
                person = self.workspace.person(who)
                assert person is not None
                timestamp = int(op.get("timestamp") or time.time())
                if timestamp < person.updated_at:
                    # Customer.io's documented trap: an older identify is dropped, still 200.
                    return "stale identify timestamp: silently ignored"
                person.attributes.update(op.get("attributes") or {})
                person.updated_at = timestamp
                person.identifies += 1
                self._applied("identify", who, op)
            elif action in ("event", "page", "screen"):
                event = {"name": op.get("name"), "id": op.get("id"), "type": action, "customer": who}
                event["data"] = op.get("attributes") or {}
                return self._accept_event(event)[1]
            elif action == "delete":
                self.workspace.people.pop(who, None)
                self.workspace.deleted.add(who)
                self._applied("delete", who, op)
            elif action in ("suppress", "unsuppress"):
                person = self.workspace.person(who)
                assert person is not None
                person.suppressed = action == "suppress"
                self._applied(action, who, op)
        return ""

    # --- App API ----------------------------------------------------------------------------

    def send(self, channel: str, body: Any) -> tuple[Answer, str]:
        request = _object(body, "body", app=True)
        _app_person(request.get("identifiers"))
        if channel == "email":
            if not isinstance(request.get("to"), str) or not request["to"]:
                raise app_error("to is required")
            inline = all(request.get(k) for k in ("body", "subject", "from"))
            if request.get("transactional_message_id") is None and not inline:
                raise app_error("transactional_message_id or body, subject and from are required")
            attachments = request.get("attachments") or {}
            if sum(len(str(v)) for v in attachments.values()) > limits.ATTACHMENTS_MAX_BYTES:
                raise app_error("attachments exceed 2 MB")
        elif request.get("transactional_message_id") is None:
            raise app_error("transactional_message_id is required")
        delivery = {"delivery_id": self.workspace.next_delivery_id(), "queued_at": int(time.time())}
        key = content_key(request)
        with self.workspace.lock:
            fault = self._applied(f"send_{channel}", key, request)
            self.workspace.deliveries.append(
                {"channel": channel, **delivery, "request": request, "key": key, "answer_replaced": fault}
            )
            if self.webhooks is not None:
                self.webhooks.emit(_transactional_delivery(channel, str(delivery["delivery_id"]), request))
        return Answer(200, delivery), ""

    def trigger(self, broadcast_id: str, body: Any) -> tuple[Answer, str]:
        if not broadcast_id.isdigit():
            raise app_error("broadcast not found", 404)
        request = _object(body, "body", app=True)
        audiences = [k for k in ("recipients", "emails", "ids", "per_user_data", "data_file_url") if k in request]
        if len(audiences) > 1:
            raise app_error("only one of recipients, emails, ids, per_user_data, data_file_url")
        if "recipients" in request and not request["recipients"]:
            raise app_error("recipients filter is empty", 422)
        for name in ("emails", "ids", "per_user_data"):
            if len(request.get(name) or []) > limits.BROADCAST_AUDIENCE_MAX:
                raise app_error(f"{name} over 10,000 entries")
        key = f"{broadcast_id}:{content_key(request)}"
        with self.workspace.lock:
            trigger_id = len(self.workspace.triggers) + 1
            fault = self._applied("trigger_broadcast", key, request)
            self.workspace.triggers.append(
                {"id": trigger_id, "broadcast_id": int(broadcast_id), "request": request, "key": key,
                 "answer_replaced": fault}
            )  # fmt: skip
            if self.webhooks is not None:
                for identifiers in self._audience(request):
                    source = {"broadcast_id": int(broadcast_id), "trigger_id": trigger_id}
                    recipient = str(identifiers.get("email") or identifiers.get("id"))
                    delivery_id = self.workspace.next_delivery_id()
                    subject = f"sandbox broadcast {broadcast_id}"
                    self.webhooks.emit(Delivery("email", delivery_id, identifiers, recipient, source, subject))
        return Answer(200, {"id": trigger_id}), ""

    def _audience(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Who a trigger reaches: the listed ids/emails/per_user_data, else (a `recipients` filter
        or a `data_file_url`, which the sandbox does not evaluate) every person it knows."""
        if "ids" in request:
            return [{"id": str(i)} for i in request["ids"]]
        if "emails" in request:
            return [{"email": str(e)} for e in request["emails"]]
        if "per_user_data" in request:
            rows = [r for r in request["per_user_data"] if isinstance(r, dict)]
            return [{k: str(r[k]) for k in ("id", "email") if r.get(k)} for r in rows]
        return [{"id": who} for who in self.workspace.people]


# --- validation helpers ------------------------------------------------------------------------


def content_key(value: Any) -> str:
    """The key of an operation that carries none: a hash of its canonical JSON, so a client's
    retry of the same request has the same key (Customer.io has no idempotency key for sends)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def people_named(path: str, body: Any) -> list[str]:
    """The identifier values a request names, in order, once each: a v1 path's
    `/customers/{identifier}`, and in the body `identifiers` (a v2 entity, an App API send),
    `primary`/`secondary` (merges) and each v2 batch operation's `identifiers`."""
    found: list[str] = []

    def add(identifiers: Any) -> None:
        if isinstance(identifiers, dict):
            found.extend(str(v) for v in identifiers.values() if isinstance(v, str | int) and v != "")

    parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/")]
    if parts[:3] == ["api", "v1", "customers"] and len(parts) > 3:
        found.append(parts[3])
    if isinstance(body, dict):
        for key in ("identifiers", "primary", "secondary"):
            add(body.get(key))
        batch = body.get("batch")
        if isinstance(batch, list):
            for operation in batch:
                if isinstance(operation, dict):
                    add(operation.get("identifiers"))
    return list(dict.fromkeys(found))


def _problem(reason: str, field_name: str, message: str) -> dict[str, str]:
    """One item of a v2 error answer."""
    return {"reason": reason, "field": field_name, "message": message}


def _parse_body(raw: bytes, method: str) -> Any:
    if not raw:
        return None if method in ("GET", "DELETE") else {}
    try:
        return json.loads(raw)
    except ValueError:
        raise track_error("body is not valid JSON") from None


def _safe_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"_unparsed_bytes": len(raw)}


def _object(value: Any, name: str, *, app: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise (app_error if app else track_error)(f"{name} must be a JSON object")
    return value


def _check_identifier(who: str) -> None:
    if not who:
        raise track_error("identifier is required")
    if len(who.encode()) > limits.IDENTIFIER_MAX_BYTES:
        raise track_error("identifier over 150 bytes")


def _check_attributes(attributes: dict[str, Any]) -> None:
    if len(attributes) > limits.ATTRIBUTES_MAX_COUNT:
        raise track_error("more than 300 attributes")
    for name, value in attributes.items():
        if len(name.encode()) > limits.ATTRIBUTE_NAME_MAX_BYTES:
            raise track_error("attribute name over 150 bytes")
        size = len(value.encode()) if isinstance(value, str) else limits.json_size(value)
        if size > limits.ATTRIBUTE_VALUE_MAX_BYTES:
            raise track_error("attribute value over 1000 bytes")


def _check_event(event: dict[str, Any]) -> None:
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise track_error("name is required")
    if len(name.encode()) > limits.EVENT_NAME_MAX_BYTES:
        raise track_error("event name over 100 bytes")
    data = event.get("data", {})
    if not isinstance(data, dict):
        raise track_error("data must be an object")
    if limits.json_size(data) > limits.EVENT_DATA_MAX_BYTES:
        raise track_error("event data over 100,000 bytes")
    event_id = event.get("id")
    if event_id is not None:
        try:
            ULID.from_str(str(event_id))
        except ValueError:
            raise track_error("id must be a ULID") from None


def _v1_person(value: Any, name: str) -> str:
    person = _object(value, name)
    given = [k for k in ("id", "email", "cio_id") if person.get(k)]
    if len(given) != 1:
        raise track_error(f"{name} needs exactly one of id, email, cio_id")
    key = given[0]
    return f"cio_{person[key]}" if key == "cio_id" else str(person[key])


def _transactional_delivery(channel: str, delivery_id: str, request: dict[str, Any]) -> Delivery:
    identifiers = {k: v for k, v in request["identifiers"].items() if v}
    recipient = request.get("to") or next(iter(identifiers.values()))
    message_id = request.get("transactional_message_id")
    subject = request.get("subject") or f"sandbox transactional message {message_id}"
    source = {"transactional_message_id": message_id}
    return Delivery(channel, delivery_id, identifiers, str(recipient), source, subject if channel == "email" else None)


def _app_person(value: Any) -> None:
    person = _object(value, "identifiers", app=True)
    if len([k for k in ("id", "email", "cio_id") if person.get(k)]) != 1:
        raise app_error("identifiers needs exactly one of id, email, cio_id")
