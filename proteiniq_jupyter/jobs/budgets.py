"""Budgets: named bounds on what the jobs submitted under them may hold and spend.

A budget's use is what its jobs hold and were charged, net of refunds: the sum of
the ledger entries that name it. A submission under a budget is refused when its
hold would take that use past the budget's credits; the check and the hold happen
in one transaction with the budget's row locked, so concurrent submissions cannot
both take its last credits. A notebook's budget is named by the notebook's path;
where the workspace sets a default for notebooks, a notebook without a budget of
its own gets one of that size at its first submission.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from .access import Actor
from .core import ServiceCore
from .errors import BudgetExceeded, Conflict, Forbidden, NotFound, ValidationError
from .model import Budget, BudgetUse, new_id
from .ports import StoreTransaction
from .text import check_text

MAX_BUDGET_NAME_LENGTH = 1000
#: How many of a budget's jobs its detail lists, newest first.
BUDGET_JOBS_LISTED = 100


def checked_budget_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str):
        raise ValidationError(
            f"a budget name must be a string, not {name!r}",
            errors=[{"field": field, "message": "must be a string"}],
        )
    name = check_text(name, field).strip()
    if not name or len(name) > MAX_BUDGET_NAME_LENGTH:
        message = f"1 to {MAX_BUDGET_NAME_LENGTH} characters"
        raise ValidationError(
            f"a budget name must be {message}", errors=[{"field": field, "message": message}]
        )
    return name


def checked_credits(credits: object, field: str = "credits") -> int:
    """A budget's size: a whole number of credits, 0 or more."""
    if isinstance(credits, bool) or not isinstance(credits, int) or not 0 <= credits < 2**62:
        message = f"must be a whole number of credits, 0 or more, not {credits!r}"
        raise ValidationError(f"{field} {message}", errors=[{"field": field, "message": message}])
    return credits


def budget_for(
    tx: StoreTransaction,
    workspace_id: str,
    user_id: str,
    *,
    budget: str | None,
    notebook: str | None,
    create_at: datetime | None,
) -> Budget | None:
    """The budget a submission counts against: the open one it names (by id or
    name), else its notebook's, else (with ``create``, under the workspace lock) a
    new one for the notebook when the workspace gives notebooks a default (made
    at ``create_at``; None makes none, as a quote does)."""
    if budget is not None:
        found = tx.get_budget(budget) if budget.startswith("bdg_") else None
        if found is None or found.workspace_id != workspace_id:
            found = tx.find_budget(workspace_id, budget)
        if found is None or not found.is_open:
            raise ValidationError(
                f"no open budget {budget!r} in this workspace: open it with "
                f"`piq budget create NAME --credits N`",
                errors=[{"field": "budget", "message": f"no open budget {budget!r}"}],
            )
        return found
    if not notebook:
        return None
    found = tx.find_budget(workspace_id, notebook)
    if found is not None or create_at is None:
        return found
    default = tx.notebook_budget_credits(workspace_id)
    if default is None:
        return None
    created = Budget(
        id=new_id("bdg"),
        workspace_id=workspace_id,
        name=notebook,
        credits=default,
        owner_id=user_id,
        created_at=create_at,
        notebook=True,
    )
    tx.insert_budget(created)
    return created


def over_budget(budget: Budget, used: int, amount: int) -> str | None:
    """Why holding ``amount`` more under ``budget`` is refused, or None."""
    if used + amount <= budget.credits:
        return None
    return (
        f"budget {budget.name!r} has {max(0, budget.credits - used)} of its "
        f"{budget.credits} credits left ({used} held or charged), and this needs {amount}"
    )


def hold_in_budget(tx: StoreTransaction, budget: Budget, amount: int) -> None:
    """Refuse ``amount`` more held under ``budget`` when it would take the budget
    past its credits. Locks the budget's row, so call it in the transaction that
    then writes the hold: nobody else's hold lands between check and write."""
    locked = tx.get_budget(budget.id, for_update=True)
    if locked is None or not locked.is_open:
        raise ValidationError(
            f"budget {budget.name!r} is closed",
            errors=[{"field": "budget", "message": "closed"}],
        )
    used = tx.budget_used(budget.id)
    problem = over_budget(locked, used, amount)
    if problem is not None:
        raise BudgetExceeded(
            problem,
            details={
                "budget_id": locked.id,
                "budget": locked.name,
                "budget_credits": locked.credits,
                "used_credits": used,
                "required_credits": amount,
            },
        )


def uses(tx: StoreTransaction, budgets: list[Budget]) -> list[BudgetUse]:
    """Each budget with what it has used."""
    found = tx.budgets_use([b.id for b in budgets])
    return [
        BudgetUse(budget=b, used=found[b.id][0], charged=found[b.id][1], jobs=found[b.id][2])
        for b in budgets
    ]


class Budgets(ServiceCore):
    def open_budget(
        self,
        actor: Actor,
        name: str,
        credits: int,
        *,
        notebook: bool = False,
        update: bool = False,
    ) -> BudgetUse:
        """Open a budget of ``credits``. A name already open is a conflict, unless
        ``update`` (a notebook setting its budget again): its credits are then set."""
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot open budgets")
        name = checked_budget_name(name)
        credits = checked_credits(credits)
        with self._write() as (tx, _):
            tx.lock_workspace(workspace_id)
            existing = tx.find_budget(workspace_id, name)
            if existing is not None:
                if not update:
                    raise Conflict(
                        f"a budget named {name!r} is already open",
                        details={"budget_id": existing.id},
                    )
                self._check_may_change(actor, existing)
                budget = replace(existing, credits=credits)
                tx.update_budget(budget)
            else:
                budget = Budget(
                    id=new_id("bdg"),
                    workspace_id=workspace_id,
                    name=name,
                    credits=credits,
                    owner_id=user_id,
                    created_at=self.clock(),
                    notebook=notebook,
                )
                tx.insert_budget(budget)
            return uses(tx, [budget])[0]

    def budgets(self, actor: Actor, *, include_closed: bool = False) -> list[BudgetUse]:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return uses(tx, tx.list_budgets(workspace_id, include_closed=include_closed))

    def budget(self, actor: Actor, ref: str) -> BudgetUse:
        """A budget (by id or open name) with its latest jobs."""
        with self.store.read() as tx:
            budget = self._find(tx, actor, ref)
            use = uses(tx, [budget])[0]
            return replace(use, job_ids=tuple(tx.budget_job_ids(budget.id, BUDGET_JOBS_LISTED)))

    def close_budget(self, actor: Actor, ref: str) -> BudgetUse:
        """Close a budget: nothing more is submitted under it; its jobs run on."""
        with self._write() as (tx, _):
            budget = self._find(tx, actor, ref)
            self._check_may_change(actor, budget)
            if budget.is_open:
                budget = replace(budget, closed_at=self.clock())
                tx.update_budget(budget)
            return uses(tx, [budget])[0]

    def notebook_budget_default(self, actor: Actor) -> int | None:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return tx.notebook_budget_credits(workspace_id)

    def set_notebook_budget_default(self, actor: Actor, credits: int | None) -> int | None:
        """The budget every notebook of the workspace gets unless it sets its own
        (None: notebooks get none). Only owners and admins set it."""
        workspace_id, _, role = self._member(actor)
        if not role.manages_workspace:
            raise Forbidden("only a workspace owner or admin may set the notebook budget")
        value = None if credits is None else checked_credits(credits)
        with self._write() as (tx, _):
            tx.set_notebook_budget_credits(workspace_id, value)
        return value

    def _find(self, tx: StoreTransaction, actor: Actor, ref: str) -> Budget:
        workspace_id, _, _ = self._member(actor)
        found = tx.get_budget(ref) if ref.startswith("bdg_") else None
        if found is None or found.workspace_id != workspace_id:
            found = tx.find_budget(workspace_id, ref)
        if found is None:
            raise NotFound(f"no budget {ref!r}", details={"budget": ref})
        return found

    @staticmethod
    def _check_may_change(actor: Actor, budget: Budget) -> None:
        if actor.user_id != budget.owner_id and not (
            actor.role is not None and actor.role.manages_workspace
        ):
            raise Forbidden(
                f"only the owner of budget {budget.name!r} or a workspace admin may change it"
            )
