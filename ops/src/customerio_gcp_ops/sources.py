"""Where users come from for a bulk sync: a CSV file, a JSON-lines file, or any SQL database
(SQLAlchemy URL and query). Each yields plain dict rows in a stable order, which makes a sync
resumable by position.

Columns: `id` (required), `email`, `opted_out`, `deleted`, `created_at`, `updated_at`; every
other non-empty column becomes a Customer.io attribute (JSON lines may also nest them under
`attributes`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from customerio_gcp.repository import User

RESERVED = {"id", "email", "opted_out", "deleted", "created_at", "updated_at", "attributes"}
TRUE = {"1", "true", "yes", "y", "t"}


class RowError(ValueError):
    """A row that cannot become a user; the message names the column, never its value."""


@dataclass(frozen=True)
class Source:
    """A user source: `rows()` in a stable order, `count()` for progress, `fingerprint` to refuse
    resuming a checkpoint against different data."""

    kind: str
    location: str
    query: str | None = None

    @property
    def fingerprint(self) -> str:
        if self.kind in ("csv", "jsonl"):
            stat = Path(self.location).stat()
            return f"{self.kind}:{Path(self.location).resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
        return f"sql:{self.location.split('@')[-1]}:{self.query}"

    def rows(self) -> Iterator[dict[str, Any]]:
        if self.kind == "csv":
            with open(self.location, newline="", encoding="utf-8") as handle:
                yield from csv.DictReader(handle)
        elif self.kind == "jsonl":
            with open(self.location, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except ValueError:
                            yield {"__error__": f"line {number} is not JSON"}
        else:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.location)
            with engine.connect() as connection:
                for row in connection.execute(text(self.query or "")).mappings():
                    yield dict(row)

    def count(self) -> int | None:
        if self.kind in ("csv", "jsonl"):
            return sum(1 for _ in self.rows())
        return None


def open_source(path: str | None = None, *, sql_url: str | None = None, query: str | None = None) -> Source:
    if sql_url:
        if not query:
            raise ValueError("--query is required with --sql-url")
        return Source("sql", sql_url, query)
    if not path:
        raise ValueError("give a CSV or JSON-lines file, or --sql-url with --query")
    kind = "jsonl" if path.endswith((".jsonl", ".ndjson", ".json")) else "csv"
    return Source(kind, path)


def to_user(row: Mapping[str, Any]) -> User:
    if "__error__" in row:
        raise RowError(str(row["__error__"]))
    user_id = row.get("id")
    if user_id in (None, ""):
        raise RowError("id is missing")
    attributes = dict(row.get("attributes") or {})
    attributes.update({k: v for k, v in row.items() if k not in RESERVED and v not in (None, "")})
    return User(
        id=str(user_id),
        email=str(row["email"]) if row.get("email") else None,
        attributes=attributes,
        opted_out=_flag(row.get("opted_out")),
        deleted=_flag(row.get("deleted")),
        created_at=_unix(row.get("created_at"), "created_at"),
        updated_at=_unix(row.get("updated_at"), "updated_at"),
    )


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUE


def _unix(value: Any, column: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise RowError(f"{column} is neither unix seconds nor an ISO date") from None
