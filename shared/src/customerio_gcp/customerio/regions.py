"""Customer.io's two data-centre regions and their hosts.

A workspace lives in exactly one region: an EU workspace calling the US host is redirected, a US
workspace calling the EU host fails. So the region is configuration, never guessed per call.
"""

from __future__ import annotations

from enum import StrEnum


class Region(StrEnum):
    US = "us"
    EU = "eu"

    @property
    def track_url(self) -> str:
        """Base of the Track API; v1 paths live under /api/v1, v2 under /api/v2."""
        return "https://track.customer.io" if self is Region.US else "https://track-eu.customer.io"

    @property
    def app_url(self) -> str:
        """Base of the App API; paths live under /v1."""
        return "https://api.customer.io" if self is Region.US else "https://api-eu.customer.io"
