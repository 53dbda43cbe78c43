"""The run form's model on both transports and both stores: built from the tool's
slots and settings schema, quoted again as its values change (the cost, the
breakdown, the balance, what blocks the run), and its submit creating the job."""

from __future__ import annotations

from typing import Any

import pytest

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.magics import PiqMagic
from proteiniq_jupyter.widgets.run_form import RunForm

from .conftest import FrontEnd
from .forms_fixtures import eventually


def count_jobs(client: Client) -> int:
    return sum(1 for _ in client.jobs(limit=None))


def front_end_types(front: FrontEnd, form: RunForm, **values: Any) -> None:
    """What the view does after its debounce: the values trait, synced."""
    front.change(form, values={"inputs": {}, "settings": {}, "name": "", **values})


def test_the_form_is_built_from_the_tool_and_shows_the_cost(
    front: FrontEnd, client: Client
) -> None:
    form = client.form("echo", text="hello world", repeat=2)
    assert form.tool["id"] == "echo"
    assert [slot["id"] for slot in form.tool["input"]["slots"]] == ["text"]
    repeat = form.tool["input"]["settings"]["properties"]["repeat"]
    assert (repeat["minimum"], repeat["maximum"]) == (1, 10)
    assert form.values == {"inputs": {"text": "hello world"}, "settings": {"repeat": 2}, "name": ""}
    # 11 characters are 2 started tens, twice: 40 credits, as the client quotes it.
    assert form.quote is not None and form.error is None
    assert form.quote["estimated_credits"] == 40
    assert form.quote == client.quote("echo", "hello world", repeat=2).model_dump(mode="json")
    (line,) = form.quote["breakdown"]
    assert (line["quantity"], line["unit_credits"], line["credits"]) == (4, 10, 40)
    assert form.quote["available_credits"] == client.credits()
    assert form.quote["blocking_errors"] == []


def test_changed_values_are_quoted_again(front: FrontEnd, client: Client) -> None:
    form = client.form("echo", text="hi")
    assert form.quote is not None and form.quote["estimated_credits"] == 10
    front_end_types(front, form, inputs={"text": "a" * 25}, settings={"repeat": 3})
    assert form.quote["estimated_credits"] == 90
    # Python changes the values the same way.
    form.values = {"inputs": {"text": "x"}, "settings": {}, "name": ""}
    assert form.quote["estimated_credits"] == 10


def test_blocking_errors_show_before_submitting_and_nothing_is_created(
    front: FrontEnd, client: Client
) -> None:
    form = client.form("echo", text="hi")
    before, credits = count_jobs(client), client.credits()
    front_end_types(front, form, inputs={"text": "hi"}, settings={"repeat": 50})
    (error,) = form.quote["blocking_errors"]
    assert error["field"] == "settings.repeat" and "less than or equal to 10" in error["message"]
    front_end_types(front, form, inputs={"text": "hi there!"})
    (error,) = form.quote["blocking_errors"]
    assert "'!' is not allowed" in error["message"] and error["column"] == 9
    front_end_types(front, form, inputs={"text": "   "})
    (error,) = form.quote["blocking_errors"]
    assert "missing input for slot 'text'" in error["message"]
    reply = front.act(form, "submit")
    assert reply["ok"] is False
    assert "missing input for slot 'text'" in reply["error"]
    assert form.job is None and form.submitted is None
    assert count_jobs(client) == before and client.credits() == credits


def test_submit_creates_the_job_and_hands_back_its_handle(front: FrontEnd, client: Client) -> None:
    form = client.form("echo", text="from the form", name="form run")
    values = {"inputs": {"text": "from the form"}, "settings": {"repeat": 2}, "name": "form run"}
    reply = front.act(form, "submit", values=values)
    assert reply["ok"] is True and reply["error"] is None, reply
    assert form.job is not None and reply["job"]["id"] == form.job.id
    stored = client.job(form.job.id)
    assert stored.name == "form run" and stored.tool == "echo"
    assert stored.resource.settings == {"repeat": 2, "outcome": "ok"}
    assert stored.resource.input.inputs[0].content == "from the form"  # type: ignore[union-attr]
    # The form follows its job from the kernel's one feed: no call reads it.
    eventually(
        lambda: (form.submitted or {}).get("status") == "COMPLETED",
        "the form shows its job completed",
    )
    assert form.job.wait(timeout=60).status is JobStatus.COMPLETED
    if client.connection.transport == "http":
        assert form.link is not None and form.job.id in form.link
    # A second Run is a second job.
    again = front.act(form, "submit")
    assert again["ok"] is True and again["job"]["id"] != reply["job"]["id"]


def test_bad_requests_are_named_not_raised_as_tracebacks(front: FrontEnd, client: Client) -> None:
    with pytest.raises(ValidationError, match=r"echo has no input or setting 'repeats'"):
        client.form("echo", repeats=2)
    with pytest.raises(ValidationError, match=r"no tool 'ech'"):
        client.form("ech")
    form = client.form("echo", text="hi")
    reply = front.act(form, "submit", values={"inputs": {"text": 3}})
    assert reply["ok"] is False and "inputs must be text" in reply["error"]
    reply = front.act(form, "quote-me")
    assert reply["ok"] is False and "no action 'quote-me'" in reply["error"]
    # A keyword the tool does not know, typed into the values: the client's own words.
    front_end_types(front, form, inputs={"text": "hi"}, settings={"colour": "red"})
    assert form.quote is None and form.error is not None and "colour" in form.error


def test_the_magic_shows_the_form(
    front: FrontEnd, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    magic = PiqMagic(None)
    monkeypatch.setattr(PiqMagic, "client", property(lambda self: client))
    form = magic("form echo 'a few words' --repeat 2 --name magic")
    assert isinstance(form, RunForm)
    assert form.values["inputs"] == {"text": "a few words"} and form.values["name"] == "magic"
    assert form.quote is not None and form.quote["estimated_credits"] == 40
