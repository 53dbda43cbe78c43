"""Keyset pages: the page size rule and the opaque cursor that says where the next
page starts (the last row's creation time and id)."""

from __future__ import annotations

import base64
from datetime import datetime

from .errors import ValidationError
from .model import Job

MAX_PAGE = 100


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
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        return datetime.fromisoformat(created), job_id
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            "starting_after is not a cursor from this server",
            errors=[{"field": "starting_after", "message": "not a cursor from this server"}],
        ) from None
