"""What text the job system accepts anywhere: a name, a search, an email, a
setting, an input's content, a file name, a cursor. Both databases and every
file system must be able to hold it as it is, so it may not carry the NUL
character (PostgreSQL's text cannot) nor a lone surrogate (no UTF-8 encoding has
one: a JSON escape such as ``\\ud800`` can make it)."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from .errors import ValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """What makes ``text`` unstorable, or None when nothing does."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return f"contains the NUL character (U+0000) at position {found.start()}"
    return f"is not valid Unicode: a lone surrogate at position {found.start()}"


def check_text(text: str, field: str) -> str:
    """``text`` as it is, or a ``ValidationError`` naming ``field`` and the problem."""
    problem = text_problem(text)
    if problem is not None:
        raise ValidationError(f"{field} {problem}", errors=[{"field": field, "message": problem}])
    return text


def check_filter(query: Any) -> None:
    """Every text field of a list's filter (a dataclass), named as the API names
    what it searches for."""
    for item in fields(query):
        value = getattr(query, item.name)
        if isinstance(value, str):
            check_text(value, _FILTER_NAMES.get(item.name, item.name))


#: What the API calls each field of a list filter.
_FILTER_NAMES = {"name_contains": "q", "submitter_id": "submitter", "batch_id": "batch"}
