"""Talking to Customer.io: regions, the Track and App clients, errors and documented limits.

Names here are loaded on first use (PEP 562): importing one submodule (`settings` needs only
`regions`) does not load both HTTP clients, which webhook-ingest never runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customerio_gcp.customerio.app import AppClient as AppClient
    from customerio_gcp.customerio.errors import AuthenticationError as AuthenticationError
    from customerio_gcp.customerio.errors import BadRequestError as BadRequestError
    from customerio_gcp.customerio.errors import BatchItemError as BatchItemError
    from customerio_gcp.customerio.errors import ConfigurationError as ConfigurationError
    from customerio_gcp.customerio.errors import ConnectionFailedError as ConnectionFailedError
    from customerio_gcp.customerio.errors import CustomerIOError as CustomerIOError
    from customerio_gcp.customerio.errors import ForbiddenError as ForbiddenError
    from customerio_gcp.customerio.errors import LimitExceededError as LimitExceededError
    from customerio_gcp.customerio.errors import NotFoundError as NotFoundError
    from customerio_gcp.customerio.errors import PermanentError as PermanentError
    from customerio_gcp.customerio.errors import RateLimitedError as RateLimitedError
    from customerio_gcp.customerio.errors import RefusedError as RefusedError
    from customerio_gcp.customerio.errors import RegionMismatchError as RegionMismatchError
    from customerio_gcp.customerio.errors import RequestTimeoutError as RequestTimeoutError
    from customerio_gcp.customerio.errors import ServerError as ServerError
    from customerio_gcp.customerio.errors import TransientError as TransientError
    from customerio_gcp.customerio.errors import UnprocessableError as UnprocessableError
    from customerio_gcp.customerio.identifiers import Identifiers as Identifiers
    from customerio_gcp.customerio.regions import Region as Region
    from customerio_gcp.customerio.track import BatchResult as BatchResult
    from customerio_gcp.customerio.track import TrackClient as TrackClient

_HOME = {
    "AppClient": "customerio_gcp.customerio.app",
    "AuthenticationError": "customerio_gcp.customerio.errors",
    "BadRequestError": "customerio_gcp.customerio.errors",
    "BatchItemError": "customerio_gcp.customerio.errors",
    "BatchResult": "customerio_gcp.customerio.track",
    "ConnectionFailedError": "customerio_gcp.customerio.errors",
    "CustomerIOError": "customerio_gcp.customerio.errors",
    "ForbiddenError": "customerio_gcp.customerio.errors",
    "RegionMismatchError": "customerio_gcp.customerio.errors",
    "RefusedError": "customerio_gcp.customerio.errors",
    "ConfigurationError": "customerio_gcp.customerio.errors",
    "Identifiers": "customerio_gcp.customerio.identifiers",
    "LimitExceededError": "customerio_gcp.customerio.errors",
    "NotFoundError": "customerio_gcp.customerio.errors",
    "PermanentError": "customerio_gcp.customerio.errors",
    "RateLimitedError": "customerio_gcp.customerio.errors",
    "Region": "customerio_gcp.customerio.regions",
    "RequestTimeoutError": "customerio_gcp.customerio.errors",
    "ServerError": "customerio_gcp.customerio.errors",
    "TrackClient": "customerio_gcp.customerio.track",
    "TransientError": "customerio_gcp.customerio.errors",
    "UnprocessableError": "customerio_gcp.customerio.errors",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
