"""The client and the magics in real kernels: started by the Jupyter server for a
notebook (as JupyterLab does), or by jupyter_client with the environment of each
way a kernel finds its server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.client.local import LocalTransport

from ..conftest import FIXTURES
from .conftest import Stack

NOTEBOOK = "lab/analysis.ipynb"
JOB_ID = re.compile(r"job_[0-9a-f]{32}")


def execute(kernel: BlockingKernelClient, code: str, timeout: float = 180) -> str:
    """Run ``code``; what it printed and displayed, errors included, as text."""
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            out.append(content["data"].get("text/plain", "") + "\n")
        elif kind == "error":
            out.append(
                f"{content['ename']}: {content['evalue']}\n" + "\n".join(content["traceback"])
            )

    kernel.execute_interactive(code, timeout=timeout, output_hook=hook)
    return "".join(out)


class NotebookKernel:
    """A kernel the server started for a notebook session, as JupyterLab asks."""

    def __init__(self, stack: Stack, path: str = NOTEBOOK) -> None:
        self.stack = stack
        with stack.http() as http:
            reply = http.post(
                "api/sessions",
                json={
                    "path": path,
                    "type": "notebook",
                    "name": "",
                    "kernel": {"name": "python3"},
                },
            )
            assert reply.status_code == 201, reply.text
            self.kernel_id = reply.json()["kernel"]["id"]
            self.session_id = reply.json()["id"]
        self.client = self._connect()

    def _connect(self) -> BlockingKernelClient:
        client = BlockingKernelClient(
            connection_file=str(self.stack.runtime_dir / f"kernel-{self.kernel_id}.json")
        )
        client.load_connection_file()
        # A kernel is judged dead after one missed heartbeat of this long; on a busy
        # machine a second can pass without one, so allow more.
        client.hb_channel.time_to_dead = 10.0
        client.start_channels()
        client.wait_for_ready(timeout=120)
        return client

    def restart(self) -> None:
        self.client.stop_channels()
        with self.stack.http() as http:
            reply = http.post(f"api/kernels/{self.kernel_id}/restart")
            assert reply.status_code == 200, reply.text
        self.client = self._connect()

    def close(self) -> None:
        self.client.stop_channels()
        with self.stack.http() as http:
            http.delete(f"api/sessions/{self.session_id}")


@pytest.fixture(scope="module")
def backend() -> str:
    """Kernels are started on the SQLite store only: the store is the same code
    whichever kernel talks to it, and the client tests cover PostgreSQL."""
    return "sqlite"


@pytest.fixture(scope="module")
def notebook(stack: Stack) -> Iterator[NotebookKernel]:
    kernel = NotebookKernel(stack)
    yield kernel
    kernel.close()


CONNECTION = (
    "import proteiniq_jupyter as piq\n"
    "c = piq.connection()\n"
    "print(c.transport, c.url, c.reason, sep='|')\n"
    "print('credits', piq.credits())\n"
)


def test_a_kernel_started_by_the_server_finds_it_through_its_variables(
    notebook: NotebookKernel, stack: Stack
) -> None:
    out = execute(notebook.client, CONNECTION)
    transport, url, reason = out.splitlines()[0].split("|")
    assert (transport, url) == ("http", stack.url)
    assert "PIQ_SERVER_URL" in reason
    assert re.search(r"credits \d+", out), out


def test_a_kernel_of_the_server_without_its_variables_reads_the_runtime_file(
    stack: Stack,
) -> None:
    """Jupyter gives the kernels it starts ``JPY_PARENT_PID``: the server's pid,
    whose runtime file names its address and token."""
    kernel = NotebookKernel(stack, "lab/parent.ipynb")
    try:
        forget = "import os\nfor k in ('PIQ_SERVER_URL', 'PIQ_SERVER_TOKEN'): os.environ.pop(k)\n"
        out = execute(kernel.client, forget + CONNECTION)
    finally:
        kernel.close()
    transport, url, reason = out.splitlines()[0].split("|")
    assert (transport, url) == ("http", stack.url), out
    assert f"runtime file of the parent server (pid {stack.process.pid})" in reason
    assert re.search(r"credits \d+", out), out


@pytest.mark.parametrize(("way", "expected"), [("jupyterhub", "http"), ("nothing", "inprocess")])
def test_a_kernel_finds_its_server(stack: Stack, way: str, expected: str) -> None:
    env = dict(stack.env)
    if way == "jupyterhub":
        env["JUPYTERHUB_SERVICE_URL"] = stack.url.replace("127.0.0.1", "0.0.0.0")
        env["JUPYTERHUB_API_TOKEN"] = stack.token
    manager, kernel = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    try:
        out = execute(kernel, CONNECTION)
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
    transport, url, reason = out.splitlines()[0].split("|")
    assert transport == expected, out
    assert re.search(r"credits \d+", out), out
    if expected == "http":
        assert url == stack.url
        assert "JUPYTERHUB_SERVICE_URL" in reason
    else:
        assert url == "None" and "no Jupyter server" in reason


def charges(job_id: str) -> list[int]:
    """The ledger's charges of a job, read from the store itself."""
    client = Client.connect()
    try:
        transport = client.transport
        assert isinstance(transport, LocalTransport)
        entries = transport.service.ledger(transport.actor, job_id=job_id)
        return [e.delta for e in entries if e.kind == "charge"]
    finally:
        client.close()


def test_a_rerun_cell_attaches_also_after_a_restart_and_pays_once(
    notebook: NotebookKernel,
) -> None:
    cell = 'job = %piq run echo "hello notebook"\nprint("id", job.id, job.status)'
    assert "UsageError" not in execute(notebook.client, "%load_ext proteiniq_jupyter")
    first = execute(notebook.client, cell)
    (job_id,) = set(re.findall(r"id (job_\w+) COMPLETED", first))
    assert f"submitted job {job_id}" in first
    again = execute(notebook.client, cell)
    assert f"attached to job {job_id}" in again and f"id {job_id} COMPLETED" in again
    notebook.restart()
    execute(notebook.client, "%load_ext proteiniq_jupyter")
    after = execute(notebook.client, cell)
    assert f"attached to job {job_id}" in after, after
    assert len(charges(job_id)) == 1
    fresh = execute(notebook.client, cell.replace('notebook"', 'notebook" --new'))
    (new_id,) = set(re.findall(r"id (job_\w+) COMPLETED", fresh))
    assert new_id != job_id and len(charges(new_id)) == 1


def test_magics_run_show_and_refuse_in_one_line(notebook: NotebookKernel) -> None:
    execute(notebook.client, "%load_ext proteiniq_jupyter")
    out = execute(
        notebook.client, "j = %piq run protein-stats MKTAYIAKQRQISFVKSHF\nprint(j.status)"
    )
    assert "COMPLETED" in out
    shown = execute(notebook.client, "%piq show {j.id}")
    assert "COMPLETED" in shown and "protein-stats" in shown
    assert "protein-stats" in execute(notebook.client, "%piq jobs --tool protein-stats")
    assert "credits available" in execute(notebook.client, "%piq credits")
    assert "autodock-vina" in execute(notebook.client, "%piq tools")
    assert "%piq run TOOL" in execute(notebook.client, "%piq help")
    quoted = execute(notebook.client, "%piq quote echo 'hello world'")
    assert "estimated credits  20" in quoted and "JobQuote(" not in quoted, quoted
    assert "public" in execute(notebook.client, "%piq share $j.id --visibility public")
    # Variables that share a name with the command or the tool change nothing, and a
    # job's handle names the job.
    execute(
        notebook.client,
        "import proteiniq_jupyter as piq\nquote = piq.quote('echo', 'x')\necho = object()",
    )
    assert "estimated credits  20" in execute(notebook.client, "%piq quote echo 'hello world'")
    assert "protein-stats" in execute(notebook.client, "%piq show j")
    for line, says in [
        ("%piq run", "name a tool: "),
        ("%piq run echo hi --txt 3", "no input or setting 'txt'"),
        ("%piq run protein-stats missing.fasta", "no such file 'missing.fasta'"),
        ("%piq cancel {j.id}", "can no longer be cancelled"),
        ("%piq show job_nothing", "no job"),
        ("%piq frobnicate", "unknown %piq command"),
        ("%piq jobs --limit many", "--limit takes a whole number"),
    ]:
        out = execute(notebook.client, line)
        assert "UsageError" in out and says in out, (line, out)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out


def test_cell_magics_take_the_cell_as_input(notebook: NotebookKernel) -> None:
    execute(notebook.client, "%load_ext proteiniq_jupyter")
    out = execute(
        notebook.client,
        "%%piq run protein-stats --name two-records\n>a\nMKTAYIAKQR\n>b\nMKTAYIAKQRQISF\n",
    )
    assert "submitted job" in out or "attached to job" in out
    out = execute(
        notebook.client,
        "import proteiniq_jupyter as piq\n"
        "print(piq.jobs(search='two-records', limit=1)[0].results['length'].tolist())",
    )
    assert "[10, 14]" in out, out
    cell = "%%piq batch protein-stats\nMKTAYIAKQR\nMKTAYIAKQRQISF\n"
    out = execute(notebook.client, cell)
    made = re.search(r"submitted batch (\w+): 2 jobs", out)
    assert made, out
    # the same cell run again attaches to its batch
    out = execute(notebook.client, cell)
    assert re.search(rf"attached to batch {made.group(1)} from .*: 2 jobs", out), out


def test_a_notebook_budget_from_a_magic(notebook: NotebookKernel) -> None:
    execute(notebook.client, "%load_ext proteiniq_jupyter")
    out = execute(notebook.client, "%piq budget 40")
    # named by the notebook's path as the server gave it to the kernel
    path = execute(notebook.client, "import os\nprint(os.environ['JPY_SESSION_NAME'])").strip()
    assert f"budget {path}: 0 of 40 credits used (40 left, 0 jobs)" in out, out
    for _ in range(2):
        assert "COMPLETED" in execute(
            notebook.client, 'j = %piq run echo "hello world" --new\nprint(j.status)'
        )
    refused = execute(notebook.client, '%piq run echo "hello world" --new')
    assert "UsageError" in refused and f"budget '{path}' has 0 of its 40" in refused
    capped = execute(notebook.client, '%piq run echo "hello world" --max-credits 5')
    assert "UsageError" in capped and "more than its cap of 5" in capped, capped
    assert f"budget {path}: 40 of 40" in execute(notebook.client, "%piq credits")
    # the notebook's later runs (those of the tests after this one) have room again
    assert "of 1000000 credits" in execute(notebook.client, "%piq budget 1000000")


@pytest.mark.slow
def test_a_docking_from_a_magic(notebook: NotebookKernel) -> None:
    receptor = FIXTURES / "docking" / "BACE_1_receptorH.pdb"
    execute(notebook.client, "%load_ext proteiniq_jupyter")
    # a notebook variable named in the line is passed as it is (here RDKit molecules)
    execute(
        notebook.client, "from rdkit import Chem\nmols = [Chem.MolFromSmiles('CC(=O)Nc1ccc(O)cc1')]"
    )
    out = execute(
        notebook.client,
        f"d = %piq run autodock-vina --receptor {receptor} --ligands mols "
        "--center_x 28.5 --center_y 6.0 --center_z 14.4 --size_x 16 --size_y 16 --size_z 16 "
        "--exhaustiveness 1 --num_poses 3\n"
        "print(d.status, len(d.results))",
        timeout=300,
    )
    assert "COMPLETED 3" in out or re.search(r"COMPLETED [1-3]\b", out), out
