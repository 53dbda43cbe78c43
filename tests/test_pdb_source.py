"""Inputs named by PDB id: fetched at submit from a real HTTP server on the loopback
(answering as the PDB's download service does), stored with the job, and refused
with a clear, free error when the entry or the server is not there."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import gemmi
import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.jobs.ports import StructureUnavailable
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.jobs.submission import normalise_pdb_id
from proteiniq_jupyter.pdb_archive import RCSB_PDB_URL, PdbArchive
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry
from proteiniq_jupyter.tools.structure import PdbToMmcif

from .helpers import PdbEntryServer

TOOLS = ToolRegistry([PdbToMmcif()])


@pytest.fixture
def entry_text(fixtures_dir: Path) -> str:
    matches = sorted((fixtures_dir / "colabfold").glob("*.pdb"))
    assert matches, "the ColabFold fixture PDB is missing"
    return matches[0].read_text(encoding="utf-8")


@pytest.fixture
def archive_server(entry_text: str) -> Iterator[PdbEntryServer]:
    server = PdbEntryServer({"1ABC": entry_text, "4GZP": entry_text}, gzipped=frozenset({"4GZP"}))
    yield server
    server.close()


def make_service(store: SqlStore, tmp_path: Path, url: str | None) -> tuple[JobService, Actor]:
    service = JobService(
        store,
        TOOLS,
        DirectoryJobFiles(tmp_path / "files"),
        structures=PdbArchive(url, timeout_s=5) if url else None,
    )
    return service, service.sign_in("alice", email="alice@lab.example")


def by_pdb_id(pdb_id: str, format: str = "") -> JobInput:
    return JobInput(
        id="structure_1",
        slot_id="structure",
        kind="structure",
        format=format,
        content="",
        pdb_id=pdb_id,
    )


def refusal(service: JobService, alice: Actor, item: JobInput) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        service.submit(alice, "pdb-to-mmcif", [item])
    assert service.list_jobs(alice).items == []
    assert service.account(alice).available_credits == 500
    return info.value


def test_an_entry_named_by_id_is_fetched_once_stored_with_the_job_and_run(
    store: SqlStore, tmp_path: Path, archive_server: PdbEntryServer, entry_text: str
) -> None:
    service, alice = make_service(store, tmp_path, archive_server.url_template)
    quote = service.quote(alice, "pdb-to-mmcif", [by_pdb_id("1abc")], {})
    assert not quote.blocking_errors
    job = service.submit(alice, "pdb-to-mmcif", [by_pdb_id("1abc")])
    # The quote and the submit asked for it; the server was asked once.
    assert archive_server.hits == {"/download/1ABC.pdb": 1}
    [stored] = service.get(alice, job.id).job.inputs
    assert stored.content == entry_text
    assert (stored.format, stored.label, stored.pdb_id) == ("pdb", "1ABC", "1ABC")
    assert api.input_source(stored).model_dump() == {"type": "pdb", "id": "1ABC"}

    run_job(service.runs, TOOLS, job.id)
    done = service.get(alice, job.id).job
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.result is not None
    [cif] = [f for f in done.result.files if f.name.endswith(".cif")]
    converted = gemmi.read_structure(str(service.files.job_dir(job.id) / cif.name))
    original = gemmi.read_pdb_string(entry_text)
    assert converted[0].count_atom_sites() == original[0].count_atom_sites() > 0


def test_a_gzip_answer_is_unpacked(archive_server: PdbEntryServer, entry_text: str) -> None:
    assert PdbArchive(archive_server.url_template).fetch("4GZP") == entry_text


def test_an_entry_the_archive_lacks_is_refused_naming_it_and_costs_nothing(
    store: SqlStore, tmp_path: Path, archive_server: PdbEntryServer
) -> None:
    service, alice = make_service(store, tmp_path, archive_server.url_template)
    error = refusal(service, alice, by_pdb_id("9zzz"))
    assert "the PDB has no entry 9ZZZ in PDB format" in error.message
    assert "answered 404" in error.message
    assert error.errors[0]["field"] == "input.inputs[0].source.id"


def test_an_unreachable_archive_is_named(store: SqlStore, tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    service, alice = make_service(store, tmp_path, f"http://127.0.0.1:{port}/{{id}}.pdb")
    error = refusal(service, alice, by_pdb_id("1ABC"))
    assert f"could not reach 127.0.0.1:{port} to fetch PDB entry 1ABC" in error.message


@pytest.mark.parametrize("given", ["12", "ABCD", "1AB C", "pdb_1abc", ""])
def test_what_is_not_a_pdb_id_is_refused_without_asking_the_archive(
    store: SqlStore, tmp_path: Path, archive_server: PdbEntryServer, given: str
) -> None:
    service, alice = make_service(store, tmp_path, archive_server.url_template)
    error = refusal(service, alice, by_pdb_id(given))
    assert f"{given!r} is not a PDB id" in error.message
    assert archive_server.hits == {}


def test_pdb_ids_are_written_as_the_pdb_writes_them() -> None:
    assert normalise_pdb_id(" 1abc ") == "1ABC"
    assert normalise_pdb_id("PDB_00001ABC") == "pdb_00001abc"
    assert normalise_pdb_id("abcd") is None


def test_switched_off_fetching_says_so(store: SqlStore, tmp_path: Path) -> None:
    service, alice = make_service(store, tmp_path, None)
    error = refusal(service, alice, by_pdb_id("1ABC"))
    assert "fetching PDB entry 1ABC is switched off here (PIQ_PDB_URL is empty)" in error.message


def test_an_entry_asked_for_in_another_format_is_refused(
    store: SqlStore, tmp_path: Path, archive_server: PdbEntryServer
) -> None:
    service, alice = make_service(store, tmp_path, archive_server.url_template)
    error = refusal(service, alice, by_pdb_id("1ABC", format="mmcif"))
    assert "is fetched as PDB text, but the input's format is 'mmcif'" in error.message
    assert archive_server.hits == {}


def test_a_server_that_sends_no_structure_is_named(archive_server: PdbEntryServer) -> None:
    archive = PdbArchive(f"{archive_server.base}/html/{{id}}.pdb")
    with pytest.raises(StructureUnavailable, match="has no ATOM or HETATM record"):
        archive.fetch("1ABC")


def test_the_api_checks_the_shape_of_a_source() -> None:
    def item(source: object) -> dict[str, object]:
        entry = {"slotId": "structure", "content": "", "source": source}
        return {"tool": "pdb-to-mmcif", "input": {"inputs": [entry]}}

    [parsed] = api.QuoteRequest.parse(item({"type": "pdb", "id": "1abc"})).input.to_domain()
    assert parsed.pdb_id == "1abc"
    assert api.input_source(parsed).model_dump() == {"type": "pdb", "id": "1abc"}
    for source, field, message in (
        ({"type": "pdb"}, "source.id", "must be a string for a pdb source"),
        ({"type": "ftp"}, "source.type", "must be one of text, file, pdb, not 'ftp'"),
        ("1ABC", "source", "must be an object"),
    ):
        with pytest.raises(ValidationError) as info:
            api.QuoteRequest.parse(item(source))
        assert info.value.errors == [{"field": f"input.inputs[0].{field}", "message": message}]


def test_the_archive_is_configured_from_the_environment() -> None:
    assert EngineConfig.from_env({}).pdb_url == RCSB_PDB_URL
    assert EngineConfig.from_env({"PIQ_PDB_URL": ""}).pdb_url is None
    mirror = EngineConfig.from_env({"PIQ_PDB_URL": "http://mirror.example/{id}.pdb"})
    assert EngineConfig.from_env(mirror.to_env()).pdb_url == "http://mirror.example/{id}.pdb"
    off = EngineConfig.from_env({"PIQ_PDB_URL": ""})
    assert EngineConfig.from_env(off.to_env()).pdb_url is None
    with pytest.raises(ValueError, match="has no \\{id\\}"):
        PdbArchive("http://mirror.example/entry.pdb")
