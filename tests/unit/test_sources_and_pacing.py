from __future__ import annotations

import json
from pathlib import Path

import pytest
from customerio_gcp_ops.sources import RowError, open_source, to_user
from customerio_gcp_ops.user_sync import Pacer


def test_json_lines_rows_with_nested_or_flat_attributes(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    rows = [
        {
            "id": 1,
            "email": "a@example.com",
            "attributes": {"plan": "pro"},
            "country": "FR",
            "updated_at": "2026-01-01T00:00:00Z",
        },
        {"id": "2", "opted_out": True},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n")
    source = open_source(str(path))
    assert source.kind == "jsonl" and source.count() == 3
    parsed = list(source.rows())
    first = to_user(parsed[0])
    assert (first.id, first.email, dict(first.attributes), first.updated_at) == (
        "1",
        "a@example.com",
        {"plan": "pro", "country": "FR"},
        1_767_225_600,
    )
    assert to_user(parsed[1]).opted_out is True
    with pytest.raises(RowError, match="line 4 is not JSON"):
        to_user(parsed[2])


def test_csv_flags_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("id,email,deleted,opted_out,created_at,plan\nu1,,yes,,1700000000,\nu2,b@example.com,0,TRUE,,team\n")
    first, second = (to_user(r) for r in open_source(str(path)).rows())
    assert (first.deleted, first.opted_out, first.created_at, dict(first.attributes)) == (
        True,
        False,
        1_700_000_000,
        {},
    )
    assert (second.deleted, second.opted_out, dict(second.attributes)) == (False, True, {"plan": "team"})


def test_pacer_spaces_calls_evenly() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
