"""Who an operation is about: exactly one of id, email, cio_id (phone too, in Track v2)."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, model_validator

from customerio_gcp.customerio.errors import BadRequestError
from customerio_gcp.customerio.limits import check_identifier


class Identifiers(BaseModel):
    """Exactly one identifier, as every Customer.io API asks for.

    Track v1 takes it in the URL path (`cio_` prefixed for a cio_id); Track v2 and the App API
    take it as an `identifiers` object. Both forms come from here so they cannot disagree.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: str | None = None
    email: str | None = None
    cio_id: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Identifiers:
        given = [name for name in ("id", "email", "cio_id", "phone") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("identifiers need exactly one of id, email, cio_id, phone")
        check_identifier(self.value)
        return self

    @property
    def kind(self) -> str:
        for name in ("id", "email", "cio_id", "phone"):
            if getattr(self, name):
                return name
        raise AssertionError("unreachable: validated to hold one identifier")

    @property
    def value(self) -> str:
        return str(getattr(self, self.kind))

    def path_segment(self) -> str:
        """The URL-encoded `{identifier}` of a Track v1 path."""
        if self.kind == "phone":
            # Permanent: the same message can never succeed, so it must be dead-lettered, not retried.
            raise BadRequestError("Track v1 paths cannot address a person by phone; use Track v2")
        raw = f"cio_{self.value}" if self.kind == "cio_id" else self.value
        return quote(raw, safe="")

    def as_body(self) -> dict[str, str]:
        """The `identifiers` object of Track v2 and App API bodies."""
        return {self.kind: self.value}

    @classmethod
    def of(cls, value: str | Identifiers) -> Identifiers:
        """Accept a plain string as an id, or a ready Identifiers."""
        return value if isinstance(value, Identifiers) else cls(id=value)
