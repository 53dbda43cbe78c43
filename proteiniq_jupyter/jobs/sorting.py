"""The orders a job history can be read in: the sortable columns, each one's
default direction, the value a row is ordered by, and the opaque cursor that says
where the next page of an order starts (that value and the row's id).

Every order is ``(value, id)``, both ascending or both descending, so a page is
one range of an index whatever its depth. Text columns are compared in code point
order (``"B" < "a"``), the same on every database. A job with no duration (not
started, or not finished yet) comes after every job with one, in either direction.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from math import isfinite
from typing import NoReturn

from .errors import ValidationError
from .model import Job
from .paging import ROW_ID, decode_cursor


class SortColumn(StrEnum):
    """What a history can be sorted by, spelled as the job resource's fields."""

    CREATED_AT = "created_at"
    NAME = "name"
    STATUS = "status"
    TOOL = "tool"
    SUBMITTER = "submitter"
    CREDITS = "credits"
    DURATION = "duration_s"

    @property
    def default_descending(self) -> bool:
        """Newest first when sorting by creation; smallest first otherwise."""
        return self is SortColumn.CREATED_AT


ORDERS = ("asc", "desc")
SORT_VALUES = tuple(c.value for c in SortColumn)

#: What a row is ordered by: a moment, text, a whole number, seconds, or no duration.
SortValue = datetime | str | int | float | None


@dataclass(frozen=True)
class JobSort:
    column: SortColumn = SortColumn.CREATED_AT
    descending: bool = True

    @classmethod
    def parse(cls, column: str | None, order: str | None = None) -> JobSort:
        """The sort a request names (``sort`` and ``order=asc|desc``); each has a
        default, and anything else is refused naming the values there are."""
        try:
            col = SortColumn(column) if column else SortColumn.CREATED_AT
        except ValueError:
            raise ValidationError(
                f"unknown sort {column!r}; sort by {', '.join(SORT_VALUES)}",
                errors=[{"field": "sort", "message": f"one of {', '.join(SORT_VALUES)}"}],
            ) from None
        if order is None or order == "":
            return cls(col, col.default_descending)
        if order not in ORDERS:
            raise ValidationError(
                f"unknown order {order!r}; use asc or desc",
                errors=[{"field": "order", "message": "asc or desc"}],
            )
        return cls(col, order == "desc")

    @property
    def order(self) -> str:
        return sort_order(self.descending)


DEFAULT_SORT = JobSort()


def sort_order(descending: bool) -> str:
    return "desc" if descending else "asc"


def shown_credits(job: Job) -> int:
    """The credits a history row shows: the charge once there is one, else the estimate."""
    return job.credits_charged or job.estimated_credits


def finished_duration_s(job: Job) -> float | None:
    """Seconds from start to finish of a job that has finished running, else None."""
    if job.started_at is None or job.finished_at is None:
        return None
    return max(0.0, (job.finished_at - job.started_at).total_seconds())


# -- cursors ------------------------------------------------------------------------

#: How a cursor writes a value of each column's kind (JSON has no moments).
_MOMENT = {SortColumn.CREATED_AT}
_WHOLE = {SortColumn.CREDITS}
_SECONDS = {SortColumn.DURATION}
#: Whole numbers a stored integer column can hold.
_INT_LIMIT = 2**31


def sort_cursor(sort: JobSort, value: SortValue, row_id: str) -> str:
    """The cursor of the page that starts after the row with this value and id in
    ``sort``. The default order's cursors are the ones every list has always had."""
    if sort == DEFAULT_SORT:
        assert isinstance(value, datetime)
        raw = f"{value.isoformat()}|{row_id}"
    else:
        shown = value.isoformat() if isinstance(value, datetime) else value
        raw = json.dumps([sort.column.value, sort.order, shown, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def sort_after(sort: JobSort, cursor: str | None) -> tuple[SortValue, str] | None:
    """Where a page of ``sort`` starts: after the cursor's row, or at the top. A
    cursor made for another order is refused: it would give a wrong page."""
    if not cursor:
        return None
    if sort == DEFAULT_SORT:
        return decode_cursor(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        column, order, value, row_id = json.loads(raw)
        if column != sort.column.value or order != sort.order:
            raise ValueError(raw)
        if not isinstance(row_id, str) or not ROW_ID.fullmatch(row_id):
            raise ValueError(raw)
        return _value(sort.column, value), row_id
    except (ValueError, TypeError, OverflowError):  # JSON and base64 errors are ValueErrors
        _refuse(sort)


def _value(column: SortColumn, value: object) -> SortValue:
    """A cursor's value as its column holds one; anything else was not made here."""
    if column in _MOMENT:
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
    elif column in _WHOLE:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT:
            return value
    elif column in _SECONDS:
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and isfinite(value):
            return float(value)
    elif isinstance(value, str) and "\x00" not in value:
        return value
    raise ValueError(value)


def _refuse(sort: JobSort) -> NoReturn:
    asked = f"sort={sort.column}&order={sort.order}"
    raise ValidationError(
        f"starting_after is not a cursor from this server for {asked}",
        errors=[{"field": "starting_after", "message": f"not a cursor of {asked}"}],
    )
