"""`@name` mentions.

A token is `@` followed by letters, digits, `.`, `_` or `-` (trailing `.`, `_`, `-`
are punctuation, not part of it). It mentions an org member when it equals,
ignoring case, any of: the local part of their email (`@bob` for bob@example.com),
their full name without spaces (`@BobBrown`), or their first name when no other
member shares it (`@Bob`). Only members who can see the channel are mentioned.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

TOKEN = re.compile(r"(?<![\w@])@([\w][\w.\-]*)", re.UNICODE)


def tokens(body: str) -> set[str]:
    return {match.group(1).rstrip("._-").lower() for match in TOKEN.finditer(body)} - {""}


def resolve(body: str, members: Iterable[Mapping[str, Any]]) -> list[int]:
    """The ids of the members that `body` mentions, sorted."""
    wanted = tokens(body)
    if not wanted:
        return []
    members = list(members)
    first_names = Counter(_first_name(m["name"]) for m in members)
    found: set[int] = set()
    for member in members:
        handles = {member["email"].rpartition("@")[0].lower(), "".join(member["name"].split()).lower()}
        first = _first_name(member["name"])
        if first and first_names[first] == 1:
            handles.add(first)
        if handles & wanted:
            found.add(int(member["user_id"]))
    return sorted(found)


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0].lower() if parts else ""
