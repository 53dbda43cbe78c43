"""Budgets: a named bound on what the jobs submitted under it may hold and spend,
with what it has used; and the bodies that open one and set the workspace's
default for notebooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, field_validator

from ..jobs import model as domain
from .base import Resource, Timestamp
from .requests import Body

Credits = Annotated[int, Field(ge=0)]


class Budget(Resource):
    object: Literal["budget"]
    id: str
    name: str = Field(description="a notebook's budget is named by the notebook's path")
    notebook: bool
    credits: Credits = Field(description="the most its jobs may hold and be charged in all")
    used: Credits = Field(description="held by its live jobs plus charged, net of refunds")
    reserved: int = Field(description="held by jobs not yet charged")
    charged: int
    remaining: Credits
    jobs: Credits
    owner_id: str
    status: Literal["open", "closed"]
    created_at: Timestamp
    closed_at: Timestamp | None
    job_ids: list[str] | None = Field(
        default=None, description="its latest jobs, newest first (on GET budgets/{id})"
    )

    @classmethod
    def of(cls, use: domain.BudgetUse, *, with_jobs: bool = False) -> Budget:
        budget = use.budget
        return cls.model_construct(
            object="budget",
            id=budget.id,
            name=budget.name,
            notebook=budget.notebook,
            credits=budget.credits,
            used=use.used,
            reserved=use.reserved,
            charged=use.charged,
            remaining=use.remaining,
            jobs=use.jobs,
            owner_id=budget.owner_id,
            status="open" if budget.is_open else "closed",
            created_at=budget.created_at,
            closed_at=budget.closed_at,
            job_ids=list(use.job_ids) if with_jobs else None,
        )


class BudgetList(Resource):
    object: Literal["list"]
    data: list[Budget]
    has_more: Literal[False]
    next_cursor: None

    @classmethod
    def of(cls, uses: Iterable[domain.BudgetUse]) -> BudgetList:
        return cls.model_construct(
            object="list", data=[Budget.of(u) for u in uses], has_more=False, next_cursor=None
        )


class BudgetCreate(Body):
    name: object = Field(description="1 to 1000 characters; a notebook's path for its budget")
    credits: object = Field(description="a whole number of credits, 0 or more")
    notebook: bool = Field(default=False, description="the budget of the notebook it names")
    update: bool = Field(
        default=False, description="set the credits of the open budget of this name, if any"
    )

    @field_validator("name", mode="plain", json_schema_input_type=str)
    @classmethod
    def _name_checked_by_the_service(cls, value: object) -> object:
        return value

    @field_validator("credits", mode="plain", json_schema_input_type=int)
    @classmethod
    def _credits_checked_by_the_service(cls, value: object) -> object:
        return value


class NotebookBudget(Resource):
    """The budget every notebook of the workspace gets unless it sets its own."""

    object: Literal["notebook_budget"]
    credits: Credits | None = Field(description="None: notebooks get no budget of their own")

    @classmethod
    def of(cls, credits: int | None) -> NotebookBudget:
        return cls.model_construct(object="notebook_budget", credits=credits)


class NotebookBudgetUpdate(Body):
    credits: object = Field(description="a whole number of credits, or null for none")

    @field_validator("credits", mode="plain", json_schema_input_type=int | None)
    @classmethod
    def _checked_by_the_service(cls, value: object) -> object:
        return value
