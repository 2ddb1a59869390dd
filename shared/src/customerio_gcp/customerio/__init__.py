"""Talking to Customer.io: regions, the Track and App clients, errors and documented limits."""

from customerio_gcp.customerio.app import AppClient
from customerio_gcp.customerio.errors import (
    AuthenticationError,
    BadRequestError,
    BatchItemError,
    ConnectionFailedError,
    CustomerIOError,
    ForbiddenError,
    LimitExceededError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransientError,
    UnprocessableError,
)
from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.regions import Region
from customerio_gcp.customerio.track import BatchResult, TrackClient

__all__ = [
    "AppClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchItemError",
    "BatchResult",
    "ConnectionFailedError",
    "CustomerIOError",
    "ForbiddenError",
    "Identifiers",
    "LimitExceededError",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "Region",
    "RequestTimeoutError",
    "ServerError",
    "TrackClient",
    "TransientError",
    "UnprocessableError",
]
