"""In a real kernel a job handle shows as the live progress widget, ``job.wait()``
shows it too, and ``piq.jobs()`` / ``%piq jobs`` show the job table; the widget's
updates reach the page while the kernel runs another cell. Kernels run over HTTP
(started by the server for a notebook) and in-process (a kernel with no server)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from ..client.conftest import Stack
from .kernels import KINDS, WIDGET_MIME, kernel_of, run


@pytest.fixture(scope="module")
def backend() -> str:
    """Kernels run on the SQLite store; the models' tests cover PostgreSQL."""
    return "sqlite"


@pytest.fixture(scope="module", params=KINDS)
def kernel(request: pytest.FixtureRequest, stack: Stack) -> Iterator[BlockingKernelClient]:
    yield from kernel_of(request.param, stack, "display.ipynb")


def more(kernel: BlockingKernelClient, seconds: float) -> list[dict[str, Any]]:
    """What iopub brings in the next ``seconds`` while no cell runs."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            found.append(kernel.get_iopub_msg(timeout=left))
        except queue.Empty:
            break
    return found


def shown(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]
        for m in messages
        if m["msg_type"] in ("execute_result", "display_data")
    ]


def opened(messages: list[dict[str, Any]], model_id: str) -> dict[str, Any]:
    for m in messages:
        if m["msg_type"] == "comm_open" and m["content"]["comm_id"] == model_id:
            state: dict[str, Any] = m["content"]["data"]["state"]
            return state
    raise AssertionError(f"no comm {model_id} opened")


def job_states(messages: list[dict[str, Any]], model_id: str) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]["state"]["job"]
        for m in messages
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == model_id
        and "job" in m["content"]["data"].get("state", {})
    ]


def test_a_handle_shows_the_live_widget_updated_while_another_cell_runs(
    kernel: BlockingKernelClient,
) -> None:
    cell = (
        "import proteiniq_jupyter as piq\n"
        "job = piq.run('sleep', 'shown live', new=True, seconds=1.5, steps=3)\n"
        "job"
    )
    messages = run(kernel, cell)
    [data] = shown(messages)
    assert "text/html" in data and data["text/plain"].startswith("<Job job_")
    model_id = data[WIDGET_MIME]["model_id"]
    state = opened(messages, model_id)
    assert state["_view_module"] == "anywidget" and state["_esm"]
    assert state["job"]["tool"] == "sleep" and state["job"]["status"] != "COMPLETED"
    # the kernel is busy in another cell while the job ends: the updates still go out
    busy = run(kernel, "import time\ntime.sleep(8)")
    updates = job_states(busy, model_id) + job_states(more(kernel, 5), model_id)
    assert updates and updates[-1]["status"] == "COMPLETED"
    assert updates[-1]["progress"] == 1.0 and updates[-1]["completed_at"] is not None


def test_wait_shows_the_widget_and_its_final_state(kernel: BlockingKernelClient) -> None:
    cell = (
        "import proteiniq_jupyter as piq\n"
        "done = piq.run('echo', 'waited on', new=True).wait(120)\n"
        "print(done.status)"
    )
    messages = run(kernel, cell)
    [data] = shown(messages)
    model_id = data[WIDGET_MIME]["model_id"]
    states = [opened(messages, model_id)["job"], *job_states(messages, model_id)]
    assert states[-1]["status"] == "COMPLETED"
    # Beside the widget, a summary for pages that cannot render it (a notebook
    # shared as HTML), brought up to the job's end in place.
    assert data["text/plain"].startswith("<Job job_")
    [ended] = [m["content"]["data"] for m in messages if m["msg_type"] == "update_display_data"]
    assert ended[WIDGET_MIME]["model_id"] == model_id
    assert "COMPLETED" in ended["text/html"] and "COMPLETED" in ended["text/plain"]
    printed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert "COMPLETED" in printed


def test_piq_jobs_and_the_magic_show_the_table(kernel: BlockingKernelClient) -> None:
    cell = (
        "import proteiniq_jupyter as piq\n"
        "piq.run('echo', 'tabled', name='tabled job', new=True).wait(120)\n"
        "piq.jobs(search='tabled job', page_size=5)"
    )
    messages = run(kernel, cell)
    data = shown(messages)[-1]  # after the wait's progress widget
    state = opened(messages, data[WIDGET_MIME]["model_id"])
    assert state["search"] == "tabled job" and state["page_size"] == 5
    assert state["rows"] and state["rows"][0]["name"] == "tabled job"
    assert "tabled job" in data["text/html"]
    magic = run(kernel, "%load_ext proteiniq_jupyter\n%piq jobs --tool echo --limit 3")
    [table] = shown(magic)
    state = opened(magic, table[WIDGET_MIME]["model_id"])
    assert state["tool"] == "echo" and 1 <= len(state["rows"]) <= 3
    by_name = run(kernel, "%piq jobs --tool echo --sort name --order desc")
    [table] = shown(by_name)
    state = opened(by_name, table[WIDGET_MIME]["model_id"])
    assert state["sort"] == {"column": "name", "descending": True}, state["sort"]
    names = [row["name"] for row in state["rows"]]
    assert names == sorted(names, reverse=True), names
    said: list[dict[str, Any]] = []
    kernel.execute_interactive("%piq jobs --sort size", timeout=60, output_hook=said.append)
    text = "".join(m["content"].get("text", "") for m in said if m["msg_type"] == "stream")
    assert text.startswith("UsageError: unknown sort 'size'"), text


def test_the_first_call_of_a_fresh_kernel_shows_the_table(stack: Stack) -> None:
    """``piq.jobs()`` as the very first call after the import (no magics loaded, no
    other verb called before) shows the job table widget, not the HTML table."""
    for fresh in kernel_of("http", stack, "first-call.ipynb"):
        [data] = shown(run(fresh, "import proteiniq_jupyter as piq\npiq.jobs()"))
        assert WIDGET_MIME in data, sorted(data)
