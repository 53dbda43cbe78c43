"""The budget routes under ``{base_url}proteiniq/api/v1/budgets``: thin, as every
route (see ``routes``)."""

from __future__ import annotations

from .. import api
from .base import PiqHandler, authenticated

#: A budget's id, or its name (a notebook's path, its slashes escaped as %2F).
BUDGET = r"(?P<ref>[^/]+)"


class BudgetsHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        closed = self.get_query_argument("all", "") in ("1", "true")
        uses = await self.call(self.state.service.budgets, actor, include_closed=closed)
        self.send(api.BudgetList.of(uses))

    @authenticated
    async def post(self) -> None:
        request = api.BudgetCreate.parse(self.json_body())
        actor = await self.actor()
        use = await self.call(
            self.state.service.open_budget,
            actor,
            request.name,  # checked by the service
            request.credits,
            notebook=request.notebook,
            update=request.update,
        )
        self.send(api.Budget.of(use), status=201)


class BudgetHandler(PiqHandler):
    @authenticated
    async def get(self, ref: str) -> None:
        actor = await self.actor()
        use = await self.call(self.state.service.budget, actor, ref)
        self.send(api.Budget.of(use, with_jobs=True))


class BudgetCloseHandler(PiqHandler):
    @authenticated
    async def post(self, ref: str) -> None:
        actor = await self.actor()
        use = await self.call(self.state.service.close_budget, actor, ref)
        self.send(api.Budget.of(use))


class NotebookBudgetHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        credits = await self.call(self.state.service.notebook_budget_default, actor)
        self.send(api.NotebookBudget.of(credits))

    @authenticated
    async def put(self) -> None:
        request = api.NotebookBudgetUpdate.parse(self.json_body())
        actor = await self.actor()
        credits = await self.call(
            self.state.service.set_notebook_budget_default,
            actor,
            request.credits,  # checked by the service
        )
        self.send(api.NotebookBudget.of(credits))


def budget_routes(prefix: str) -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{prefix}/budgets", BudgetsHandler),
        (rf"{prefix}/budgets/notebook-default", NotebookBudgetHandler),
        (rf"{prefix}/budgets/{BUDGET}", BudgetHandler),
        (rf"{prefix}/budgets/{BUDGET}/close", BudgetCloseHandler),
    ]
