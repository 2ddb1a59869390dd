"""How per-person state is keyed: by purpose, Customer.io workspace and exact identifier.

The workspace is part of every key, so switching the site id or the region (a new workspace)
starts from a clean slate: identical identifies are sent to the new workspace, and a deletion in
one workspace does not silence another. Emails are compared case-insensitively, as Customer.io
does. Keys are hashed before they reach a store (`firestore.document_id`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from customerio_gcp.customerio.identifiers import Identifiers

Workspace = Callable[[], str]
"""Returns the workspace's identity (region and site id); called when a key is needed, so a
rotated or re-fetched site id is honoured."""


def workspace_id(region: str, site_id: str) -> str:
    return hashlib.sha256(f"{region}:{site_id}".encode()).hexdigest()[:16]


def person_key(purpose: str, workspace: str, identifiers: Identifiers) -> str:
    value = identifiers.value.lower() if identifiers.kind == "email" else identifiers.value
    return f"{purpose}:{workspace}:{identifiers.kind}:{value}"
