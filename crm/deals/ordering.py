"""Fractional order keys for kanban columns (after David Greenspan's "fractional indexing").

A key is an "integer part" (a head letter that says its length, then base-62
digits) plus an optional fraction without trailing zeros. Keys compare as plain
byte strings (PostgreSQL `COLLATE "C"`), and there is always a key strictly
between two others, so moving a card writes only that card's row.
"""

from __future__ import annotations

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ZERO = DIGITS[0]
SMALLEST_INTEGER = "A" + ZERO * 26
FIRST_KEY = "a" + ZERO


class InvalidKey(ValueError):
    """Not an order key this module produced."""


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise InvalidKey(f"invalid order key head: {head!r}")


def _integer_part(key: str) -> str:
    length = _integer_length(key[0])
    if length > len(key):
        raise InvalidKey(f"invalid order key: {key!r}")
    return key[:length]


def validate(key: str) -> None:
    """Raise InvalidKey unless `key` is a well-formed order key."""
    if not key or key == SMALLEST_INTEGER or any(c not in DIGITS for c in key):
        raise InvalidKey(f"invalid order key: {key!r}")
    integer = _integer_part(key)
    if key[len(integer) :].endswith(ZERO):
        raise InvalidKey(f"invalid order key: {key!r}")


def _midpoint(a: str, b: str | None) -> str:
    """A fraction strictly between fractions a and b (b None: the end); neither has trailing zeros."""
    if b is not None:
        n = 0
        while (a[n] if n < len(a) else ZERO) == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    digit_a = DIGITS.index(a[0]) if a else 0
    digit_b = DIGITS.index(b[0]) if b is not None else len(DIGITS)
    if digit_b - digit_a > 1:
        return DIGITS[(digit_a + digit_b + 1) // 2]
    if b is not None and len(b) > 1:
        return b[0]
    return DIGITS[digit_a] + _midpoint(a[1:], None)


def _increment_integer(x: str) -> str | None:
    head, digits = x[0], list(x[1:])
    for i in reversed(range(len(digits))):
        d = DIGITS.index(digits[i]) + 1
        if d < len(DIGITS):
            digits[i] = DIGITS[d]
            return head + "".join(digits)
        digits[i] = ZERO
    if head == "Z":
        return "a" + ZERO
    if head == "z":
        return None
    new_head = chr(ord(head) + 1)
    if new_head > "a":
        digits.append(ZERO)
    else:
        digits.pop()
    return new_head + "".join(digits)


def _decrement_integer(x: str) -> str | None:
    head, digits = x[0], list(x[1:])
    for i in reversed(range(len(digits))):
        d = DIGITS.index(digits[i]) - 1
        if d >= 0:
            digits[i] = DIGITS[d]
            return head + "".join(digits)
        digits[i] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    new_head = chr(ord(head) - 1)
    if new_head < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return new_head + "".join(digits)


def key_between(a: str | None, b: str | None) -> str:
    """A key strictly greater than `a` and strictly less than `b` (None = open end)."""
    if a is not None:
        validate(a)
    if b is not None:
        validate(b)
    if a is not None and b is not None and a >= b:
        raise InvalidKey(f"{a!r} is not below {b!r}")
    if a is None:
        if b is None:
            return FIRST_KEY
        int_b = _integer_part(b)
        frac_b = b[len(int_b) :]
        if int_b == SMALLEST_INTEGER:
            return int_b + _midpoint("", frac_b)
        if int_b < b:
            return int_b
        lower = _decrement_integer(int_b)
        if lower is None:
            raise InvalidKey("cannot go below the smallest key")
        return lower
    int_a = _integer_part(a)
    frac_a = a[len(int_a) :]
    if b is None:
        higher = _increment_integer(int_a)
        return int_a + _midpoint(frac_a, None) if higher is None else higher
    int_b = _integer_part(b)
    if int_a == int_b:
        return int_a + _midpoint(frac_a, b[len(int_b) :])
    higher = _increment_integer(int_a)
    if higher is None:
        raise InvalidKey("cannot go above the largest key")
    return higher if higher < b else int_a + _midpoint(frac_a, None)


def keys_between(a: str | None, b: str | None, n: int) -> list[str]:
    """n ascending keys strictly between a and b, kept short by bisecting (for bulk inserts)."""
    if n <= 0:
        return []
    if n == 1:
        return [key_between(a, b)]
    if b is None:
        keys = [key_between(a, None)]
        while len(keys) < n:
            keys.append(key_between(keys[-1], None))
        return keys
    if a is None:
        keys = [key_between(None, b)]
        while len(keys) < n:
            keys.insert(0, key_between(None, keys[0]))
        return keys
    middle = n // 2
    mid = key_between(a, b)
    return [*keys_between(a, mid, middle), mid, *keys_between(mid, b, n - middle - 1)]
