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


class InputError(ValueError):
    """A source or checkpoint file that cannot be used at all: the file, the line, what is wrong
    (never a value from the file) and how to fix it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


COLUMNS_HELP = "columns: id (required), email, opted_out, deleted, created_at, updated_at, then any attribute"


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
            yield from self._csv_rows()
        elif self.kind == "jsonl":
            yield from self._jsonl_rows()
        else:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.location)
            with engine.connect() as connection:
                for row in connection.execute(text(self.query or "")).mappings():
                    yield dict(row)

    def _lines(self) -> Iterator[tuple[int, str]]:
        """The file's lines, numbered from 1, each decoded on its own so a bad byte is reported
        with its line."""
        with open(self.location, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    raise InputError(
                        f"{self.location} line {number}: not UTF-8 text", "save the file as UTF-8 and run again"
                    ) from None

    def _csv_rows(self) -> Iterator[dict[str, Any]]:
        lines = self._lines()
        reader = csv.reader(line for _number, line in lines)
        try:
            header = next(reader, None)
            if not header or "id" not in [name.strip() for name in header]:
                raise InputError(
                    f"{self.location} line 1: the header has no 'id' column",
                    f"start the file with a header line naming its {COLUMNS_HELP}",
                )
            header = [name.strip() for name in header]
            for fields in reader:
                if not fields:
                    continue
                if len(fields) > len(header):
                    yield {"__error__": f"line {reader.line_num} has more fields than the header"}
                    continue
                yield dict(zip(header, fields, strict=False))
        except csv.Error as exc:
            raise InputError(
                f"{self.location} line {reader.line_num}: not valid CSV ({exc})",
                "fix that line (quotes must be closed), or export the file again as CSV",
            ) from None

    def _jsonl_rows(self) -> Iterator[dict[str, Any]]:
        for number, line in self._lines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                if number == 1 and line.lstrip().startswith("["):
                    raise InputError(
                        f"{self.location} line 1: a JSON array, not JSON lines",
                        "write one JSON object per line (e.g. jq -c '.[]' file.json > file.jsonl)",
                    ) from None
                yield {"__error__": f"line {number} is not JSON"}
                continue
            if isinstance(row, list) and number == 1:
                raise InputError(
                    f"{self.location} line 1: a JSON array, not JSON lines",
                    "write one JSON object per line (e.g. jq -c '.[]' file.json > file.jsonl)",
                )
            yield row if isinstance(row, dict) else {"__error__": f"line {number} is not a JSON object"}

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
    if not Path(path).is_file():
        what = "is a directory" if Path(path).is_dir() else "no such file"
        raise InputError(f"{path}: {what}", "give the path of a CSV or JSON-lines file of users")
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
