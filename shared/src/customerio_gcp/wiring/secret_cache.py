"""The secret cache every function builds first: plain values locally, Secret Manager in the cloud."""

from __future__ import annotations

from customerio_gcp import secrets as names
from customerio_gcp.people.keys import Workspace, workspace_id
from customerio_gcp.secrets import Fetcher, SecretManagerFetcher, Secrets, constant
from customerio_gcp.settings import Settings


def build_secrets(settings: Settings) -> Secrets:
    """Each secret from its plain value (local runs) or from Secret Manager (the cloud)."""
    fetchers: dict[str, Fetcher] = {name: constant(value) for name, value in settings.secret_values.items()}
    if settings.secret_ids:
        manager = SecretManagerFetcher(settings.project or "", endpoint=settings.secret_manager_endpoint)
        for name, secret_id in settings.secret_ids.items():
            fetchers.setdefault(name, manager.fetcher(secret_id, optional=name == names.WEBHOOK_SIGNING_KEY_NEXT))
    return Secrets(fetchers, max_age=settings.secret_max_age_s)


def build_workspace(settings: Settings, secrets: Secrets) -> Workspace:
    """The workspace's identity (region and site id) that per-person state is scoped by; every
    writer and reader of that state (the functions, bulk sync) must build it the same way."""
    return lambda: workspace_id(settings.region.value, secrets.get(names.SITE_ID))
