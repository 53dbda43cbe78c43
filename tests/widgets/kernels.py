"""Real kernels for the widgets' tests: one started by the server for a notebook
(over HTTP), or one with no server (in-process), and how to run a cell in one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

from ..client.conftest import Stack
from ..client.test_kernels import NotebookKernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: How a kernel reaches the store: the server's API, or the engine in the kernel.
KINDS = ["http", "inprocess"]


def kernel_of(kind: str, stack: Stack, notebook: str) -> Iterator[BlockingKernelClient]:
    """A kernel of ``kind`` on ``stack``'s store (``notebook`` names its session)."""
    if kind == "http":
        session = NotebookKernel(stack, notebook)
        yield session.client
        session.close()
        return
    env = {k: v for k, v in stack.env.items() if not k.startswith("PIQ_SERVER")}
    manager, client = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(kernel: BlockingKernelClient, code: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Run a cell; every message it sent on iopub, in order."""
    messages: list[dict[str, Any]] = []
    reply = kernel.execute_interactive(code, timeout=timeout, output_hook=messages.append)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors
    return messages
