"""``piq``'s credit caps and budgets, as a user types them: --max-credits on run,
quote and batch run, and ``piq budget`` to open, list, show and close budgets
and set the notebooks' default; ``piq credits`` lists them."""

from __future__ import annotations

import json
import re

import pytest

from .test_cli import Piq, env, invoker, one_error_line, show

__all__ = ["env"]

#: 12 characters: 20 credits.
TEXT = "hello credit"


@pytest.fixture
def piq(env: dict[str, str | None]) -> Piq:
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Echo,tests.helpers:Meter"
    return invoker(env)


def pairs(text: str) -> dict[str, str]:
    """The ``key  value`` lines of a command's output."""
    found = {}
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        if len(parts) == 2:
            found[parts[0]] = parts[1]
    return found


def available(piq: Piq) -> int:
    credits: int = json.loads(piq("credits", "--json").stdout)["workspace"]["credits"]["available"]
    return credits


def test_a_cap_below_the_quote_refuses_the_run(piq: Piq) -> None:
    quote = piq("quote", "echo", TEXT, "--max-credits", "19", code=1).stdout
    assert pairs(quote)["max credits"] == "19" and "more than its cap of 19" in quote
    line = one_error_line(piq("run", "echo", TEXT, "--max-credits", "19", code=1))
    assert "quoted at 20 credits, more than its cap of 19 (max_credits)" in line
    assert available(piq) == 500
    assert json.loads(piq("jobs", "--json").stdout)["items"] == []
    job_id = piq("run", "echo", TEXT, "--max-credits", "20", "--wait").stdout.splitlines()[0]
    detail = show(piq, job_id)
    assert (detail["status"], detail["max_credits"]) == ("COMPLETED", 20)
    assert "20 charged (20 estimated, at most 20)" in piq("show", job_id).stdout
    piq("run", "echo", TEXT, "--max-credits", "-1", code=2)


def test_a_metered_run_stops_at_its_cap(piq: Piq) -> None:
    out = piq(
        "run", "meter", "x", "--set", "units=9", "--max-credits", "40", "--wait", code=1
    ).stdout
    job_id = out.splitlines()[0]
    detail = show(piq, job_id)
    assert (detail["status"], detail["credits_charged"]) == ("BUDGET_EXCEEDED", 40)
    assert "credit cap of 40" in detail["error"]
    ledger = json.loads(piq("credits", "ledger", "--job", job_id, "--json").stdout)
    assert sum(e["delta"] for e in ledger) == -40
    assert available(piq) == 460


def test_budgets_from_the_command_line(piq: Piq) -> None:
    created = pairs(piq("budget", "create", "screen", "--credits", "50").stdout)
    assert created["budget"].startswith("screen (bdg_") and created["left"] == "50"
    piq("run", "echo", TEXT, "--budget", "screen", "--wait")
    piq("run", "echo", TEXT, "--budget", "screen", "--wait")
    line = one_error_line(piq("run", "echo", TEXT, "--budget", "screen", code=1))
    assert "budget 'screen' has 10 of its 50 credits left (40 held or charged)" in line
    line = one_error_line(piq("batch", "run", "echo", TEXT, "--budget", "screen", code=1))
    assert "budget 'screen'" in line
    quote = pairs(piq("quote", "echo", TEXT, "--budget", "screen", code=1).stdout)
    assert quote["budget"] == "screen: 10 of 50 credits left"
    listing = piq("budget").stdout
    assert listing.split("\n")[1].split() == ["screen", "50", "40", "40", "10", "2", "open"]
    shown = json.loads(piq("budget", "show", "screen", "--json").stdout)
    assert (shown["used"], shown["jobs"], len(shown["job_ids"])) == (40, 2, 2)
    credits = piq("credits").stdout
    assert "budgets" in credits and "screen" in credits
    account = json.loads(piq("credits", "--json").stdout)
    assert [b["name"] for b in account["budgets"]] == ["screen"]
    one_error_line(piq("budget", "create", "screen", "--credits", "5", code=1))
    updated = piq("budget", "create", "screen", "--credits", "100", "--update").stdout
    assert pairs(updated)["left"] == "60"
    assert "closed screen (40 of 100 credits used)" in piq("budget", "close", "screen").stdout
    assert piq("budget").stdout.strip() == "no open budgets"
    assert "closed" in piq("budget", "list", "--all").stdout
    line = one_error_line(piq("run", "echo", TEXT, "--budget", "screen", code=1))
    assert "no open budget 'screen'" in line
    assert "no default budget" in piq("budget", "notebooks").stdout
    assert "25 credits each" in piq("budget", "notebooks", "--credits", "25").stdout
    assert pairs(piq("credits").stdout)["notebook budget"] == "25 credits each"
    assert "no default budget" in piq("budget", "notebooks", "--none").stdout
