"""The credit ledger in the database: entries written once by key, balances, and a
workspace's or a job's entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select

from ..jobs.ports import LedgerEntry
from . import tables as t

_INSERT_LEDGER = insert(t.ledger)
_LEDGER_HAS = select(t.ledger.c.id).where(t.ledger.c.key == bindparam("key_"))


class LedgerRows:
    """The credit ledger: that part of ``SqlTransaction`` (see
    ``jobs.ports.StoreTransaction``)."""

    conn: Connection
    _postgres: bool

    def ledger_has(self, key: str) -> bool:
        return self.conn.execute(_LEDGER_HAS, {"key_": key}).first() is not None

    def ledger_append(
        self,
        workspace_id: str,
        kind: str,
        delta: int,
        key: str,
        *,
        at: datetime,
        job_id: str | None = None,
        batch_id: str | None = None,
        actor_id: str | None = None,
        note: str | None = None,
        budget_id: str | None = None,
    ) -> bool:
        """Append one entry unless its key is already there. Callers hold the
        workspace lock, so check-then-insert cannot race; the unique key is the
        backstop."""
        if self.ledger_has(key):
            return False
        self.conn.execute(
            _INSERT_LEDGER,
            {
                "workspace_id": workspace_id,
                "kind": kind,
                "delta": delta,
                "key": key,
                "job_id": job_id,
                "batch_id": batch_id,
                "actor_id": actor_id,
                "note": note,
                "created_at": at,
                "budget_id": budget_id,
            },
        )
        return True

    def ledger_balance(self, workspace_id: str) -> int:
        return int(
            self.conn.execute(
                select(func.coalesce(func.sum(t.ledger.c.delta), 0)).where(
                    t.ledger.c.workspace_id == workspace_id
                )
            ).scalar_one()
        )

    def ledger_entries(self, workspace_id: str, *, job_id: str | None = None) -> list[LedgerEntry]:
        query = select(t.ledger).where(t.ledger.c.workspace_id == workspace_id)
        if job_id is not None:
            query = query.where(t.ledger.c.job_id == job_id)
        rows = self.conn.execute(query.order_by(t.ledger.c.id)).mappings()
        return [
            LedgerEntry(
                id=r["id"],
                workspace_id=r["workspace_id"],
                kind=r["kind"],
                delta=r["delta"],
                key=r["key"],
                job_id=r["job_id"],
                batch_id=r["batch_id"],
                actor_id=r["actor_id"],
                note=r["note"],
                created_at=r["created_at"],
                budget_id=r["budget_id"],
            )
            for r in rows
        ]
