"""Which hash a person keeps when two identifies were accepted (`people.store.settle`): the one
Customer.io applied last, or none when that cannot be told."""

from __future__ import annotations

from customerio_gcp.people.store import StoredHash, settle

NOW = 1_767_225_600.0
LATER = NOW + 86_400


def at(digest: str, when: float, window: float = 0.0) -> StoredHash:
    return StoredHash(digest, LATER, when, window)


def test_the_first_hash_is_kept() -> None:
    new = at("a", NOW)
    assert settle(None, new, NOW) is new


def test_an_expired_hash_counts_as_absent() -> None:
    new = at("a", NOW - 100)
    assert settle(StoredHash("b", NOW - 1, NOW, 0.0), new, NOW) is new


def test_the_newer_identify_wins_in_either_order() -> None:
    old, new = at("a", NOW), at("b", NOW + 1)
    assert settle(old, new, NOW) is new
    assert settle(new, old, NOW) is new  # the older one arrived late: Customer.io ignored it


def test_equal_timestamps_with_different_attributes_leave_nothing() -> None:
    assert settle(at("a", NOW), at("b", NOW), NOW) is None


def test_a_time_of_sending_orders_only_beyond_its_window() -> None:
    sent = at("a", NOW, window=60)
    assert settle(sent, at("b", NOW + 59), NOW) is None
    assert settle(sent, at("b", NOW - 59), NOW) is None
    assert settle(sent, at("b", NOW + 61), NOW).digest == "b"  # type: ignore[union-attr]
    assert settle(sent, at("b", NOW - 61), NOW) is sent
    assert settle(at("b", NOW + 30, window=60), sent, NOW) is None  # both windows count


def test_the_same_attributes_need_no_order() -> None:
    old, new = at("a", NOW), at("a", NOW)
    assert settle(old, new, NOW) is new
    older = at("a", NOW - 10)
    assert settle(new, older, NOW) is new
