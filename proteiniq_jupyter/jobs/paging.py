"""Keyset pages: the page size rule and the opaque cursor that says where the next
page starts (the last row's creation time and id)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from .errors import ValidationError
from .model import Job

MAX_PAGE = 100
#: What a row id in a cursor looks like (``job_`` and 32 hex digits, and the like).
ROW_ID = re.compile(r"[A-Za-z0-9_\-]{1,40}")


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            f"limit must be between 1 and {MAX_PAGE}",
            errors=[{"field": "limit", "message": f"must be between 1 and {MAX_PAGE}"}],
        )


def cursor_after(created_at: datetime, row_id: str) -> str:
    """The cursor of the page that starts after this row."""
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_cursor(job: Job) -> str:
    return cursor_after(job.created_at, job.id)


def start_after(cursor: str | None) -> tuple[datetime, str] | None:
    """Where the page a request asks for starts: after the cursor's row, or at the top."""
    return decode_cursor(cursor) if cursor else None


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The row a cursor names: an aware moment (in UTC, as the store keeps them)
    and an id. Anything else (a moment without a timezone or one that leaves the
    calendar in UTC, an id no row can have) was not made by this server."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, row_id = raw.split("|", 1)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or not ROW_ID.fullmatch(row_id):
            raise ValueError(raw)
        return moment.astimezone(UTC), row_id
    except (ValueError, OverflowError):  # UnicodeDecodeError and binascii.Error are ValueErrors
        raise ValidationError(
            "starting_after is not a cursor from this server",
            errors=[{"field": "starting_after", "message": "not a cursor from this server"}],
        ) from None
