"""Order keys: always a key strictly between two others, in byte order, in the fractional-indexing format."""

from __future__ import annotations

import random

import pytest

from crm.deals.ordering import InvalidKey, key_between, keys_between

# (above, below, expected) from the reference "fractional-indexing" algorithm's base-62 cases
KNOWN = [
    (None, None, "a0"),
    (None, "a0", "Zz"),
    (None, "Zz", "Zy"),
    ("a0", None, "a1"),
    ("a1", None, "a2"),
    ("a0", "a1", "a0V"),
    ("a1", "a2", "a1V"),
    ("a0V", "a1", "a0l"),
    ("Zz", "a0", "ZzV"),
    ("Zz", "a1", "a0"),
    (None, "Y00", "Xzzz"),
    ("bzz", None, "c000"),
    ("a0", "a0V", "a0G"),
    ("a0", "a0G", "a08"),
    ("b125", "b129", "b127"),
    ("a0", "a1V", "a1"),
    ("Zz", "a01", "a0"),
    (None, "a0V", "a0"),
    (None, "b999", "b99"),
    (None, "A000000000000000000000000001", "A000000000000000000000000000V"),
    ("zzzzzzzzzzzzzzzzzzzzzzzzzzy", None, "zzzzzzzzzzzzzzzzzzzzzzzzzzz"),
    ("zzzzzzzzzzzzzzzzzzzzzzzzzzz", None, "zzzzzzzzzzzzzzzzzzzzzzzzzzzV"),
]


@pytest.mark.parametrize(("above", "below", "expected"), KNOWN)
def test_known_keys(above: str | None, below: str | None, expected: str) -> None:
    assert key_between(above, below) == expected


@pytest.mark.parametrize(
    ("above", "below"),
    [
        (None, "A00000000000000000000000000"),
        ("a00", None),
        ("a00", "a1"),
        ("0", "1"),
        ("a1", "a0"),
        ("a1", "a1"),
        ("", None),
    ],
)
def test_invalid_or_unordered_keys_are_refused(above: str | None, below: str | None) -> None:
    with pytest.raises(InvalidKey):
        key_between(above, below)


def test_thousands_of_random_inserts_stay_in_byte_order() -> None:
    rng = random.Random(7)
    keys: list[str] = []
    for _ in range(3000):
        index = rng.randint(0, len(keys))
        above = keys[index - 1] if index else None
        below = keys[index] if index < len(keys) else None
        key = key_between(above, below)
        assert (above is None or above < key) and (below is None or key < below)
        keys.insert(index, key)
    assert keys == sorted(keys, key=lambda k: k.encode())
    assert max(len(k) for k in keys) < 12


def test_repeated_inserts_at_one_spot_grow_slowly() -> None:
    above, below = "a0", "a1"
    for _ in range(200):
        below = key_between(above, below)
    assert len(below) < 210 and above < below


@pytest.mark.parametrize(
    ("above", "below", "n"), [(None, None, 10), ("a0", "a2", 20), (None, "a0", 5), ("a4", None, 7)]
)
def test_bulk_keys_are_ordered_and_inside_the_gap(above: str | None, below: str | None, n: int) -> None:
    keys = keys_between(above, below, n)
    assert len(keys) == len(set(keys)) == n
    assert keys == sorted(keys)
    assert above is None or above < keys[0]
    assert below is None or keys[-1] < below
