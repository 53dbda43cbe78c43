"""Every verb of the client, on both transports (over HTTP to a real Jupyter
server with the extension, and in-process on the same store): the same calls give
the same answers, and bad input is one clear error that creates and costs nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import gemmi
import pandas as pd
import pytest
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord
from rdkit import Chem

from proteiniq_jupyter import api
from proteiniq_jupyter.client import Client, JobFailed, PiqError
from proteiniq_jupyter.jobs.errors import InsufficientCredits, NotFound, ValidationError
from proteiniq_jupyter.jobs.status import JobStatus

from ..conftest import FIXTURES
from ..helpers import Gate

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQ"
RECEPTOR = FIXTURES / "docking" / "BACE_1_receptorH.pdb"


def count_jobs(client: Client) -> int:
    return sum(1 for _ in client.jobs(limit=None))


def test_connection_says_which_transport_and_why(client: Client, stack: Any) -> None:
    connection = client.connection
    if connection.transport == "http":
        assert connection.url == stack.url
    else:
        store = stack.env.get("PIQ_DATABASE_URL") or stack.env["PIQ_DATA_DIR"]
        assert connection.database is not None and store in connection.database
    assert connection.reason


def test_the_catalogue_lists_tools_with_slots_settings_and_costs(client: Client) -> None:
    ids = [tool.id for tool in client.tools()]
    assert {"protein-stats", "smiles-to-sdf", "echo"} <= set(ids)
    echo = client.tool("echo")
    assert [slot.id for slot in echo.input.slots] == ["text"]
    repeat = echo.input.settings["properties"]["repeat"]
    assert (repeat["default"], repeat["minimum"], repeat["maximum"]) == (1, 1, 10)
    assert echo.credit_model.is_free is False
    assert client.tool("protein-stats").credit_model.is_free is True
    # Both transports say whether a tool can run, and why not.
    assert echo.availability.available is True and echo.availability.reason is None
    listed = {tool.id: tool.availability for tool in client.tools()}
    assert listed["echo"] == echo.availability
    with pytest.raises(ValidationError, match=r"no tool 'esmfld'.*esmfold"):
        client.tool("esmfld")


def test_run_wait_and_read_the_result_every_way(client: Client, tmp_path: Path) -> None:
    job = client.run("protein-stats", SEQUENCE, name="stats of one")
    assert job.status in (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED)
    assert job.wait(timeout=60) is job
    assert job.status is JobStatus.COMPLETED and job.progress == 1.0
    assert job.name == "stats of one"
    result = job.result()
    assert result.results.fields["length"] == len(SEQUENCE)
    assert job.results.loc[0, "length"] == len(SEQUENCE)
    (file,) = job.files
    saved = job.download(file.name, to=tmp_path)
    assert saved == tmp_path / file.name and str(len(SEQUENCE)) in saved.read_text()
    exported = json.loads(job.export("json"))
    assert exported["job_id"] == job.id and exported["status"] == "COMPLETED"
    assert "length" in job.export("csv").splitlines()[0]
    frame = job.to_dataframe()
    assert frame.loc[0, "job_id"] == job.id
    assert job.id in job._repr_html_() and "COMPLETED" in job._repr_html_()
    again = client.job(job.id)
    assert again.status is JobStatus.COMPLETED and again.resource == job.resource


def test_a_job_can_be_awaited(client: Client) -> None:
    async def main() -> JobStatus:
        job = client.run("protein-stats", SEQUENCE[:10], new=True)
        done = await job
        return done.status

    assert asyncio.run(main()) is JobStatus.COMPLETED


def test_quote_then_run_charges_what_was_quoted(client: Client) -> None:
    before = client.credits()
    quote = client.quote("echo", "hello world", repeat=2)
    assert (quote.estimated_credits, quote.available_credits) == (40, before)
    assert quote.blocking_errors == []
    job = client.run("echo", "hello world", repeat=2, new=True).wait(60)
    assert job.result().results.fields["echo"] == "hello world hello world"
    assert job.resource.credits.charged == 40
    assert client.credits() == before - 40


def test_a_quote_reads_as_piq_quote_prints_it(client: Client) -> None:
    """In a notebook a quote shows its facts, its breakdown and what blocks it, as
    the terminal's ``piq quote`` does (a table in HTML), not as a model's dump; it is
    still the API's quote."""
    from IPython.lib.pretty import pretty

    quote = client.quote("echo", "hello <world>", repeat=2, max_credits=1)
    assert isinstance(quote, api.JobQuote)
    text = pretty(quote)
    assert text == str(quote)
    lines = text.splitlines()
    assert lines[0] == "tool               echo"
    assert "estimated credits  40" in lines and "max credits        1" in lines
    assert lines[lines.index("breakdown") + 1].endswith("= 40")
    assert lines[lines.index("cannot run") + 1].strip() == quote.blocking_errors[0]["message"]
    shown = quote._repr_html_()
    assert "<th" in shown and ">40</td>" in shown and "Cannot run" in shown
    assert "JobQuote(" not in text + shown


@pytest.mark.parametrize(
    ("tool", "args", "kwargs", "error", "says"),
    [
        ("echo", ("hi",), {"txt": "hi"}, ValidationError, "no input or setting 'txt'"),
        ("echo", ("hi",), {"repat": 2}, ValidationError, "did you mean 'repeat'"),
        ("echo", ("hi",), {"repeat": 11}, ValidationError, "repeat"),
        ("protein-stats", ("no-such-file.fasta",), {}, ValidationError, "no such file"),
        ("protein-stats", (Path("missing.fasta"),), {}, ValidationError, "no such file"),
        ("smiles-to-sdf", ("C1CC(",), {}, ValidationError, "cannot parse the SMILES"),
        ("echo", ("x" * 60,), {"repeat": 10}, InsufficientCredits, "credits"),
        ("echo", (), {}, ValidationError, "text"),
    ],
    ids=[
        "unknown-slot",
        "misspelt-setting",
        "setting-out-of-range",
        "missing-file-string",
        "missing-file-path",
        "bad-smiles",
        "too-few-credits",
        "no-input",
    ],
)
def test_bad_input_is_one_clear_error_that_creates_and_costs_nothing(
    client: Client,
    tool: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[PiqError],
    says: str,
) -> None:
    credits, jobs = client.credits(), count_jobs(client)
    with pytest.raises(error, match=says) as raised:
        client.run(tool, *args, new=True, **kwargs)
    assert "\n" not in raised.value.message
    assert (client.credits(), count_jobs(client)) == (credits, jobs)


def test_a_failed_job_raises_its_message_and_is_refunded(client: Client) -> None:
    before = client.credits()
    job = client.run("echo", "doomed", outcome="error", new=True).wait(60)
    assert job.status is JobStatus.FAILED
    with pytest.raises(JobFailed, match="echo chamber collapsed") as raised:
        job.result()
    assert raised.value.status == "FAILED"
    assert client.credits() == before
    retried = job.retry()
    assert retried.id != job.id and retried.wait(60).status is JobStatus.FAILED


def test_rename_duplicate_share_link_delete(client: Client) -> None:
    job = client.run("echo", "to change", new=True).wait(60)
    assert job.rename("renamed").name == "renamed"
    assert client.job(job.id).name == "renamed"
    twin = job.duplicate(repeat=2, name="twice").wait(60)
    assert twin.resource.origin_job_id == job.id and twin.name == "twice"
    assert twin.result().results.fields["echo"] == "to change to change"
    # None takes a setting back to the tool's default, through either transport.
    once = twin.duplicate(repeat=None).wait(60)
    assert once.resource.settings["repeat"] == 1
    assert once.result().results.fields["echo"] == "to change"
    share = job.share("invited", invite=["someone@lab.example"])
    assert str(share.visibility) == "invited"
    assert [i.email for i in share.invites] == ["someone@lab.example"]
    assert str(job.resource.visibility) == "invited"
    link = job.link()
    if client.connection.transport == "http":
        assert link is not None and link.endswith(f"lab?jobId={job.id}")
    else:
        assert link is None
    job.delete()
    with pytest.raises(NotFound):
        client.job(job.id)


def test_a_duplicate_says_where_it_came_from_and_compares_with_it(client: Client) -> None:
    job = client.run("echo", "compare me", new=True).wait(60)
    twin = job.duplicate(repeat=2).wait(60)
    record = twin.resource.provenance
    assert isinstance(record, api.JobProvenance) and record.derived_from is not None
    assert (record.derived_from.job_id, record.derived_from.how) == (job.id, "duplicate")
    assert record.tool is not None and record.tool.id == "echo" and record.attempt == 1
    assert record.worker is not None and record.worker.cpus >= 1
    assert [s.name for s in record.software] == ["proteiniq-jupyter"]

    diff = job.diff(twin)
    assert not diff.same and (diff.a, diff.b) == (job.id, twin.id)
    assert diff.section("settings") == {"repeat": (1, 2)}
    assert diff.section("inputs") == {}
    assert diff.section("provenance")["derived_from.job_id"] == (None, job.id)
    assert ["repeat", "1", "->", "2"] in [line.split() for line in str(diff).splitlines()]
    html = diff._repr_html_()
    assert "<code>1</code>" in html and "<code>2</code>" in html and job.id in html
    data = json.loads(json.dumps(diff.to_dict()))
    assert (
        data["object"] == "job_diff"
        and {"section": "settings", "field": "repeat", "a": 1, "b": 2} in data["changes"]
    )
    assert job.diff(job.id).same


def test_cancel_a_running_job(client: Client, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "hold", new=True, **gate.settings(steps=3))
        job.cancel()
        assert job.status is JobStatus.CANCELLED
        assert job.wait(60).status is JobStatus.CANCELLED
    finally:
        gate.open()


def test_the_job_table_pages_lazily(client: Client) -> None:
    tag = client.connection.transport
    made = [
        client.run("echo", "page", name=f"{tag} page {n}", new=True).wait(60).id for n in range(3)
    ]
    table = client.jobs(tool="echo", search=f"{tag} page", page_size=2)
    assert len(table.first_page()) == 2  # one page read, not the whole history
    assert [j.id for j in table] == made[::-1]  # the second page read as iteration reaches it
    small = client.jobs(tool="echo", limit=2)
    assert [j.id for j in small] == made[::-1][:2]
    assert list(small.to_dataframe()["id"]) == made[::-1][:2]
    every = [j.id for j in client.jobs(tool="echo", status="COMPLETED", limit=None)]
    assert set(made) <= set(every)
    assert all(j.tool == "echo" for j in client.jobs(tool="echo", limit=5))
    assert made[-1] in table._repr_html_()


def test_the_job_table_sorts_the_whole_history(client: Client) -> None:
    tag = client.connection.transport
    names = [f"{tag} sorted {word}" for word in ("kilo", "alfa", "Zulu", "bravo", "alfa")]
    made = [client.run("echo", "sort", name=n, new=True).id for n in names]
    mine = {"tool": "echo", "search": f"{tag} sorted", "page_size": 2}
    by_name = client.jobs(**mine, sort="name")
    assert len(by_name.first_page()) == 2  # still one page at a time
    rows = [(j.resource.name, j.id) for j in by_name]
    assert rows == sorted(zip(names, made, strict=True))
    assert rows[0][0] == f"{tag} sorted Zulu"  # code point order: upper case first
    backwards = client.jobs(**mine, sort="name", descending=True)
    assert [j.id for j in backwards] == [j for _, j in reversed(rows)]
    oldest = client.jobs(**mine, sort="created_at", descending=False)
    assert [j.id for j in oldest] == made
    with pytest.raises(ValidationError, match="sort by created_at, name, status"):
        client.jobs(sort="colour")


def test_inputs_as_scientists_hold_them(client: Client, tmp_path: Path) -> None:
    mols = [Chem.MolFromSmiles("CCO"), Chem.MolFromSmiles("c1ccccc1")]
    sdf = client.run("smiles-to-sdf", mols, new=True).wait(60)
    assert sdf.result().results.fields["molecules"] == 2
    # another job's output, straight into the next job
    back = client.run("sdf-to-smiles", sdf.output("sdf"), new=True).wait(60)
    assert len(back.results) == 2
    record = SeqRecord(Seq(SEQUENCE), id="rec1", description="a record")
    assert client.run("protein-stats", record, new=True).wait(60).results.loc[0, "name"] == "rec1"
    series = pd.Series([SEQUENCE, SEQUENCE[:12]], index=["first", "second"])
    frame = client.run("protein-stats", series, new=True).wait(60).results
    assert list(frame["name"]) == ["first", "second"]
    fasta = tmp_path / "one.fasta"
    fasta.write_text(f">from-file\n{SEQUENCE}\n")
    for given in (fasta, str(fasta)):
        job = client.run("protein-stats", given, new=True).wait(60)
        assert job.results.loc[0, "name"] == "from-file"
    structure = gemmi.read_structure(str(RECEPTOR))
    chains = client.run("structure-to-sequence", structure, new=True).wait(60)
    assert chains.status is JobStatus.COMPLETED and len(chains.results) >= 1
    converted = client.run("pdb-to-mmcif", RECEPTOR, new=True).wait(60)
    assert converted.structure()[0].count_atom_sites() == structure[0].count_atom_sites()
    # "pdb:ID" names an entry for the server to fetch (switched off for these tests)
    with pytest.raises(ValidationError, match="fetching PDB entry 1FKN is switched off"):
        client.run("structure-to-sequence", "pdb:1fkn", new=True)


def test_a_batch_runs_one_job_per_item(client: Client) -> None:
    batch = client.run_batch("protein-stats", [SEQUENCE, SEQUENCE[:15]], name="two")
    assert len(batch.resource.job_ids) == 2
    done = batch.wait(60)
    assert done.resource.counts.get(JobStatus.COMPLETED) == 2
    assert client.batch(batch.id).resource.total == 2
    lengths = sorted(j.result().results.fields["length"] for j in done.jobs())
    assert lengths == [15, len(SEQUENCE)]


def test_files_lists_job_outputs(client: Client) -> None:
    job = client.run("echo", "a file", new=True).wait(60)
    names = {(f.job_id, f.name) for f in client.files(limit=100)}
    assert (job.id, "echo.txt") in names


def test_a_repeated_submit_with_its_key_makes_one_job(client: Client) -> None:
    body = client.request("echo", ("same key",), {}, None)
    before = client.credits()
    key = f"retried-request-{client.connection.transport}"
    first = client.transport.submit(body, key)
    second = client.transport.submit(body, key)
    assert first.id == second.id
    client.job(first.id).wait(60)
    assert client.credits() == before - first.credits.estimated


def test_following_resumes_after_the_last_event_seen(client: Client) -> None:
    job = client.run("sleep", "steps", steps=3, new=True).wait(60)
    seen: list[Any] = []
    last = client.transport.follow(job.id, seen.append)
    assert seen and seen[-1].status is JobStatus.COMPLETED and last == seen[-1].id
    assert [e.id for e in seen] == sorted(e.id for e in seen)
    resumed: list[Any] = []
    client.transport.follow(job.id, resumed.append, after=seen[1].id)
    assert [e.id for e in resumed] == [e.id for e in seen[2:]]
    nothing: list[Any] = []
    assert client.transport.follow(job.id, nothing.append, after=last) == last
    assert nothing == []
