"""Reading a request body with a bounded buffer.

Customer.io's "Body Content" option puts whole emails into `sent` events, so bodies of several
megabytes are legitimate: webhook-ingest accepts up to Cloud Run's request limit (32 MiB). A body
is read in chunks and the read stops one chunk past the limit, so a larger (or endless chunked)
body costs at most the limit in memory before it is refused with 413.
"""

from __future__ import annotations

from typing import Protocol

MAX_BODY_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class BodyTooLargeError(Exception):
    """The body is over the limit; nothing of it is kept."""


def read_bounded(stream: Readable, limit: int = MAX_BODY_BYTES) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body over {limit} bytes")
        parts.append(chunk)
