"""Uploaded files and batches in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, insert, select

from ..jobs.model import Batch, FileOrigin, FileRecord, Job
from ..jobs.ports import FileFilter
from . import tables as t
from .job_rows import LIST_COLUMNS, job_from_row
from .keyset import before, name_contains


def file_from_row(row: RowMapping) -> FileRecord:
    return FileRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        owner_id=row["owner_id"],
        job_id=row["job_id"],
        name=row["name"],
        format=row["format"],
        content_type=row["content_type"],
        size=row["size"],
        origin=FileOrigin(row["origin"]),
        created_at=row["created_at"],
    )


def batch_from_row(row: RowMapping) -> Batch:
    return Batch(
        id=row["id"],
        workspace_id=row["workspace_id"],
        submitter_id=row["submitter_id"],
        tool=row["tool"],
        name=row["name"],
        created_at=row["created_at"],
        reserved_credits=row["reserved_credits"],
        budget_id=row["budget_id"],
        max_credits=row["max_credits"],
    )


class FileRows:
    """Uploaded files and batches: that part of ``SqlTransaction`` (see
    ``jobs.ports.StoreTransaction``)."""

    conn: Connection
    _postgres: bool

    def insert_files(self, records: Sequence[FileRecord]) -> None:
        if records:
            self.conn.execute(
                insert(t.files),
                [
                    {
                        "id": r.id,
                        "workspace_id": r.workspace_id,
                        "owner_id": r.owner_id,
                        "job_id": r.job_id,
                        "name": r.name,
                        "format": r.format,
                        "content_type": r.content_type,
                        "size": r.size,
                        "origin": str(r.origin),
                        "created_at": r.created_at,
                    }
                    for r in records
                ],
            )

    def get_file(self, file_id: str) -> FileRecord | None:
        row = self.conn.execute(select(t.files).where(t.files.c.id == file_id)).mappings().first()
        return None if row is None else file_from_row(row)

    def delete_file(self, file_id: str) -> None:
        self.conn.execute(delete(t.files).where(t.files.c.id == file_id))

    def list_files(
        self,
        workspace_id: str,
        file_filter: FileFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[FileRecord]:
        c = t.files.c
        query = select(t.files).where(c.workspace_id == workspace_id)
        if file_filter.name_contains:
            query = query.where(name_contains(c.name, file_filter.name_contains))
        if file_filter.format:
            query = query.where(c.format == file_filter.format)
        if file_filter.origin:
            query = query.where(c.origin == file_filter.origin)
        if file_filter.owner_id:
            query = query.where(c.owner_id == file_filter.owner_id)
        if after is not None:
            query = query.where(before(c.created_at, c.id, after))
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [file_from_row(r) for r in self.conn.execute(query).mappings().all()]

    # -- batches ------------------------------------------------------------

    def insert_batch(
        self, batch: Batch, idempotency_key: str | None = None, request_hash: str | None = None
    ) -> None:
        self.conn.execute(
            insert(t.batches).values(
                id=batch.id,
                workspace_id=batch.workspace_id,
                submitter_id=batch.submitter_id,
                tool=batch.tool,
                name=batch.name,
                reserved_credits=batch.reserved_credits,
                created_at=batch.created_at,
                budget_id=batch.budget_id,
                max_credits=batch.max_credits,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        )

    def find_idempotent_batch(self, workspace_id: str, key: str) -> tuple[Batch, str | None] | None:
        row = (
            self.conn.execute(
                select(t.batches).where(
                    t.batches.c.workspace_id == workspace_id, t.batches.c.idempotency_key == key
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else (batch_from_row(row), row["request_hash"])

    def get_batch(self, batch_id: str) -> Batch | None:
        row = (
            self.conn.execute(select(t.batches).where(t.batches.c.id == batch_id))
            .mappings()
            .first()
        )
        return None if row is None else batch_from_row(row)

    def batch_children(self, batch_id: str) -> list[Job]:
        rows = self.conn.execute(
            select(t.jobs)
            .where(t.jobs.c.batch_id == batch_id)
            .order_by(t.jobs.c.created_at, t.jobs.c.id)
        ).mappings()
        return [job_from_row(r) for r in rows]

    def batches_children(self, batch_ids: Sequence[str]) -> list[Job]:
        if not batch_ids:
            return []
        query = (
            select(*LIST_COLUMNS)
            .where(t.jobs.c.batch_id.in_(list(batch_ids)))
            .order_by(t.jobs.c.created_at, t.jobs.c.id)
        )
        return [job_from_row(row) for row in self.conn.execute(query).mappings().all()]

    def list_batches(
        self, workspace_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Batch]:
        c = t.batches.c
        query = select(t.batches).where(c.workspace_id == workspace_id)
        if after is not None:
            query = query.where(before(c.created_at, c.id, after))
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [batch_from_row(r) for r in self.conn.execute(query).mappings()]
