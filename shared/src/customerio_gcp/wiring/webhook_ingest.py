"""webhook-ingest's parts: signing keys from the secret cache, and the Pub/Sub topics that keep
what it accepts (events) and what it cannot parse (quarantine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from customerio_gcp import secrets as names
from customerio_gcp.observability import configure_logging
from customerio_gcp.settings import Settings
from customerio_gcp.webhooks.handler import WebhookHandler, flask_response
from customerio_gcp.webhooks.keeping import EventKeeper
from customerio_gcp.webhooks.rows import PersonalData
from customerio_gcp.wiring.secret_cache import build_secrets


def build(settings: Settings) -> Callable[[Any], tuple[str, int, dict[str, str]]]:
    """The function's request handler (a Flask request in, Flask's answer tuple out)."""
    handler = build_webhook_handler(settings)
    return lambda request: flask_response(handler, request)


def build_webhook_handler(settings: Settings) -> WebhookHandler:
    configure_logging(settings.log_level)
    if not settings.webhook_events_topic or not settings.webhook_quarantine_topic:
        raise ValueError("webhook-ingest needs WEBHOOK_EVENTS_TOPIC and WEBHOOK_QUARANTINE_TOPIC (full topic paths)")
    secrets = build_secrets(settings)

    def keys(stale_since: float | None) -> list[str]:
        found = [secrets.get(names.WEBHOOK_SIGNING_KEY, stale_since=stale_since)]
        if secrets.has(names.WEBHOOK_SIGNING_KEY_NEXT):
            found.append(secrets.get(names.WEBHOOK_SIGNING_KEY_NEXT, stale_since=stale_since))
        return found

    keeper = EventKeeper(settings.webhook_events_topic, settings.webhook_quarantine_topic)
    return WebhookHandler(
        keys,
        keeper,
        personal_data=PersonalData(settings.webhook_personal_data),
        max_body_bytes=settings.webhook_max_body_bytes,
    )
