"""Budgets in the database: their rows, the workspace's default for notebooks, and
what each has used, summed from the ledger entries that count against it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, case, func, insert, select
from sqlalchemy import update as sql_update

from ..jobs.model import Budget
from . import tables as t

_CHARGES = ("charge", "refund")


def _budget_from_row(row: RowMapping) -> Budget:
    return Budget(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        credits=int(row["credits"]),
        owner_id=row["owner_id"],
        created_at=row["created_at"],
        notebook=bool(row["notebook"]),
        closed_at=row["closed_at"],
    )


class BudgetRows:
    """The budget half of ``SqlTransaction`` (see ``jobs.ports.StoreTransaction``)."""

    conn: Connection
    _postgres: bool

    def insert_budget(self, budget: Budget) -> None:
        self.conn.execute(
            insert(t.budgets).values(
                id=budget.id,
                workspace_id=budget.workspace_id,
                name=budget.name,
                credits=budget.credits,
                owner_id=budget.owner_id,
                notebook=budget.notebook,
                created_at=budget.created_at,
                closed_at=budget.closed_at,
            )
        )

    def get_budget(self, budget_id: str, *, for_update: bool = False) -> Budget | None:
        query = select(t.budgets).where(t.budgets.c.id == budget_id)
        if for_update and self._postgres:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _budget_from_row(row)

    def find_budget(self, workspace_id: str, name: str) -> Budget | None:
        c = t.budgets.c
        row = (
            self.conn.execute(
                select(t.budgets)
                .where(c.workspace_id == workspace_id, c.name == name, c.closed_at.is_(None))
                .order_by(c.created_at.desc())
            )
            .mappings()
            .first()
        )
        return None if row is None else _budget_from_row(row)

    def list_budgets(self, workspace_id: str, *, include_closed: bool = False) -> list[Budget]:
        c = t.budgets.c
        query = select(t.budgets).where(c.workspace_id == workspace_id)
        if not include_closed:
            query = query.where(c.closed_at.is_(None))
        rows = self.conn.execute(query.order_by(c.created_at, c.id)).mappings().all()
        return [_budget_from_row(r) for r in rows]

    def update_budget(self, budget: Budget) -> None:
        self.conn.execute(
            sql_update(t.budgets)
            .where(t.budgets.c.id == budget.id)
            .values(credits=budget.credits, closed_at=budget.closed_at)
        )

    def budgets_use(self, budget_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """Per budget: (held and charged, charged net of refunds, jobs), each a sum
        of the ledger entries or jobs that name the budget."""
        if not budget_ids:
            return {}
        ids = list(budget_ids)
        led = t.ledger.c
        charged = case((led.kind.in_(_CHARGES), led.delta), else_=0)
        sums = self.conn.execute(
            select(
                led.budget_id,
                func.coalesce(func.sum(led.delta), 0),
                func.coalesce(func.sum(charged), 0),
            )
            .where(led.budget_id.in_(ids))
            .group_by(led.budget_id)
        ).all()
        counts = self.conn.execute(
            select(t.jobs.c.budget_id, func.count())
            .where(t.jobs.c.budget_id.in_(ids))
            .group_by(t.jobs.c.budget_id)
        ).all()
        jobs = {budget_id: int(n) for budget_id, n in counts}
        use = {budget_id: (0, 0, jobs.get(budget_id, 0)) for budget_id in ids}
        for budget_id, delta, charge in sums:
            use[budget_id] = (-int(delta), -int(charge), jobs.get(budget_id, 0))
        return use

    def budget_used(self, budget_id: str) -> int:
        """What the budget's jobs hold and were charged: one sum over its entries."""
        total: Any = self.conn.execute(
            select(func.coalesce(func.sum(t.ledger.c.delta), 0)).where(
                t.ledger.c.budget_id == budget_id
            )
        ).scalar_one()
        return -int(total)

    def budget_job_ids(self, budget_id: str, limit: int) -> list[str]:
        c = t.jobs.c
        rows = self.conn.execute(
            select(c.id)
            .where(c.budget_id == budget_id)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        ).all()
        return [row[0] for row in rows]

    def notebook_budget_credits(self, workspace_id: str) -> int | None:
        value = self.conn.execute(
            select(t.workspaces.c.notebook_budget_credits).where(t.workspaces.c.id == workspace_id)
        ).scalar()
        return None if value is None else int(value)

    def set_notebook_budget_credits(self, workspace_id: str, credits: int | None) -> None:
        self.conn.execute(
            sql_update(t.workspaces)
            .where(t.workspaces.c.id == workspace_id)
            .values(notebook_budget_credits=credits)
        )
