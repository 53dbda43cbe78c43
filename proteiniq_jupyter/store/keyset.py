"""Keyset paging in SQL: the conditions that start a page after its cursor, in the
newest-first order of every history list and in a sort's (value, id) order; and
the name search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import literal, tuple_

from ..jobs.sorting import SortValue


def before(created_at: Any, row_id: Any, cursor: tuple[datetime, str]) -> Any:
    """Rows older than the cursor in (created_at, id) order: the keyset condition
    of every history list.

    One row-value comparison, not "created_at < x OR (created_at = x AND id < y)":
    both backends turn it into a range on the (..., created_at, id) index, so a page
    deep in the history starts at the cursor instead of reading and discarding every
    newer row first. The literals keep the columns' types, so the timestamp is
    compared in its stored UTC form on SQLite.
    """
    created, last_id = cursor
    return tuple_(created_at, row_id) < tuple_(
        literal(created, created_at.type), literal(last_id, row_id.type)
    )


def past(ordered: Any, row_id: Any, cursor: tuple[SortValue, str], *, descending: bool) -> Any:
    """Rows after the cursor's in a sort's (value, id) order, as ``before`` is for
    the newest-first history; with no ``ordered`` value, after its id alone."""
    value, last_id = cursor
    if ordered is None:
        return row_id < last_id if descending else row_id > last_id
    mine = tuple_(ordered, row_id)
    theirs = tuple_(literal(value, ordered.type), literal(last_id, row_id.type))
    return mine < theirs if descending else mine > theirs


def name_contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match in which % and _ are plain characters."""
    return column.ilike(f"%{_escape_like(text)}%", escape="\\")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
