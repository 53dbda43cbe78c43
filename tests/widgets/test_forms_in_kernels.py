"""In real kernels: ``%piq form`` shows the run form with its cost, a batch shows as
its live view (whose children's updates reach the page while the kernel runs
another cell), and ``job.share_dialog()`` shows the dialog. Kernels run over HTTP
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
    yield from kernel_of(request.param, stack, "forms.ipynb")


def opened(messages: list[dict[str, Any]], trait: str) -> tuple[str, dict[str, Any]]:
    """The widget the cell displayed that has ``trait``: its comm id and first state."""
    shown = {
        m["content"]["data"][WIDGET_MIME]["model_id"]
        for m in messages
        if m["msg_type"] in ("display_data", "execute_result")
        and WIDGET_MIME in m["content"]["data"]
    }
    for m in messages:
        content = m["content"]
        if m["msg_type"] == "comm_open" and content["comm_id"] in shown:
            state: dict[str, Any] = content["data"]["state"]
            if trait in state:
                return content["comm_id"], state
    raise AssertionError(f"the cell displayed no widget with {trait}: {messages}")


def updates(messages: list[dict[str, Any]], comm_id: str, trait: str) -> list[Any]:
    return [
        m["content"]["data"]["state"][trait]
        for m in messages
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm_id
        and trait in m["content"]["data"].get("state", {})
    ]


def test_the_magic_shows_the_run_form_with_its_cost(kernel: BlockingKernelClient) -> None:
    messages = run(kernel, "%load_ext proteiniq_jupyter\n%piq form echo hello --repeat 2")
    _, state = opened(messages, "quote")
    assert state["tool"]["id"] == "echo"
    assert state["values"]["inputs"] == {"text": "hello"}
    assert state["quote"]["estimated_credits"] == 20 and state["quote"]["blocking_errors"] == []


def test_a_batch_shows_live_while_the_kernel_runs_another_cell(
    kernel: BlockingKernelClient,
) -> None:
    messages = run(
        kernel,
        "import proteiniq_jupyter as piq\n"
        "batch = piq.run_batch('sleep', ['a', 'b'], new=True, seconds=3, steps=3)\n"
        "batch",
    )
    comm_id, state = opened(messages, "batch")
    assert state["batch"]["total"] == 2 and len(state["jobs"]) == 2
    # The kernel is busy in another cell; the view's updates reach the page anyway.
    busy = run(kernel, "import time\ntime.sleep(8)")
    seen: list[Any] = updates(messages + busy, comm_id, "jobs")
    deadline = time.monotonic() + 60
    while not (seen and all(j["status"] == "COMPLETED" for j in seen[-1])):
        assert time.monotonic() < deadline, "the batch view never showed its jobs completed"
        try:
            message = kernel.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        seen += updates([message], comm_id, "jobs")
    assert any(m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id for m in busy), (
        "no update reached the page while the other cell ran"
    )


def test_the_share_dialog_shows_a_jobs_sharing(kernel: BlockingKernelClient) -> None:
    messages = run(
        kernel,
        "import proteiniq_jupyter as piq\n"
        "job = piq.run('protein-stats', 'MKTAYIAKQR', new=True).wait(60)\n"
        "job.share('invited', invite=['someone@example.org'])\n"
        "job.share_dialog()",
    )
    _, state = opened(messages, "share")
    assert state["share"]["visibility"] == "invited"
    assert state["share"]["invites"] == [{"email": "someone@example.org", "status": "pending"}]
