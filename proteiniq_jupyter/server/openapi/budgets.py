"""The paths of the budget routes (``budget_routes.py``)."""

from __future__ import annotations

from ..routes import API
from .builders import BODY_ERRORS, JsonDict, body, errors, ok, op, param, ref


def budget_paths() -> JsonDict:
    budget, ref_param = ref("Budget"), param("BudgetRef")
    return {
        f"{API}/budgets": {
            "get": op(
                "listBudgets",
                "The workspace's budgets and what each has used",
                "budgets",
                {"200": ok("the budgets", ref("BudgetList")), **errors()},
                parameters=[
                    {
                        "name": "all",
                        "in": "query",
                        "required": False,
                        "description": "1 to list closed budgets too",
                        "schema": {"type": "string", "enum": ["0", "1", "true"]},
                    }
                ],
            ),
            "post": op(
                "openBudget",
                "Open a named budget (or, with update, set an open one's credits)",
                "budgets",
                {"201": ok("the budget", budget), **errors(*BODY_ERRORS, 403, 409)},
                body=body(ref("BudgetCreate")),
                description=(
                    "Jobs submitted with its name or id in budget (or, for a notebook's "
                    "budget, from that notebook) are refused when their hold would take "
                    "its held and charged credits past its limit."
                ),
            ),
        },
        f"{API}/budgets/notebook-default": {
            "get": op(
                "getNotebookBudget",
                "The budget each notebook gets unless it sets its own",
                "budgets",
                {"200": ok("the default", ref("NotebookBudget")), **errors()},
            ),
            "put": op(
                "setNotebookBudget",
                "Set the workspace's default budget for notebooks (owners and admins)",
                "budgets",
                {
                    "200": ok("the default", ref("NotebookBudget")),
                    **errors(*BODY_ERRORS, 403),
                },
                body=body(ref("NotebookBudgetUpdate")),
            ),
        },
        f"{API}/budgets/{{ref}}": {
            "parameters": [ref_param],
            "get": op(
                "getBudget",
                "A budget, its use and its latest jobs",
                "budgets",
                {"200": ok("the budget", budget), **errors(404)},
            ),
        },
        f"{API}/budgets/{{ref}}/close": {
            "parameters": [ref_param],
            "post": op(
                "closeBudget",
                "Close a budget: nothing more is submitted under it",
                "budgets",
                {"200": ok("the budget", budget), **errors(403, 404)},
            ),
        },
    }
