"""Provenance: a real Vina docking and a real ESMFold fold (tiny model), run by the
embedded Dask cluster's workers on SQLite and PostgreSQL, record what ran them; the
record reads the same in the API resource, the JSON export and ``piq show``; two
jobs compare with ``piq diff``. Also: the record survives retries and duplicates,
and a run writes it only while it holds the job."""

from __future__ import annotations

import importlib.metadata
import json
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from proteiniq_jupyter import api
from proteiniq_jupyter.cli import cli
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.execution.cpu import machine_cpus
from proteiniq_jupyter.execution.environment import program, run_environment
from proteiniq_jupyter.jobs import provenance
from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.model import JobInput, ToolResult
from proteiniq_jupyter.jobs.provenance import Derivation, ModelWeights, Software
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.tools import esmfold
from proteiniq_jupyter.tools.programs import Program
from proteiniq_jupyter.tools.weights import index_fingerprint
from tests.engines import dask_config
from tests.helpers import Echo
from tests.tools.tiny_esmfold import build_tiny_esmfold

RECEPTOR = "docking/BACE_1_receptorH.pdb"
FAST = {
    "center_x": 28.5,
    "center_y": 6.0,
    "center_z": 14.4,
    "size_x": 16.0,
    "size_y": 16.0,
    "size_z": 16.0,
    "exhaustiveness": 1,
    "num_poses": 3,
    "energy_range": 5.0,
}
PEPTIDE = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQ"
VINA_LIBRARIES = ("vina", "meeko", "rdkit", "gemmi")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_esmfold(tmp_path_factory.mktemp("tiny-esmfold"))


def vina_inputs(fixtures: Path) -> list[JobInput]:
    receptor = (fixtures / RECEPTOR).read_text()
    return [
        JobInput(id="r", slot_id="receptor", kind="structure", format="pdb", content=receptor),
        JobInput(
            id="l", slot_id="ligands", kind="ligand", format="smiles", content="CC(=O)Nc1ccc(O)cc1"
        ),
    ]


def piq(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    assert "Traceback" not in result.output
    return result.output


def versions(record: dict[str, Any]) -> dict[str, str | None]:
    return {s["name"]: s["version"] for s in record["software"]}


def test_vina_and_esmfold_jobs_record_what_ran_them(
    database_url: str,
    tmp_path: Path,
    fixtures_dir: Path,
    tiny_model: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(esmfold.MODEL_ENV, str(tiny_model))  # the workers inherit it
    config = dask_config(database_url, tmp_path)
    engine = open_engine(config)
    try:
        me = engine.actor()
        docking = engine.service.submit(me, "autodock-vina", vina_inputs(fixtures_dir), FAST)
        fold = engine.service.submit(me, "esmfold", [_sequence(PEPTIDE)])
        engine.wait(timeout=300)
        dock_job = engine.service.get(me, docking.id).job
        fold_job = engine.service.get(me, fold.id).job
        assert dock_job.status is JobStatus.COMPLETED, dock_job.error
        assert fold_job.status is JobStatus.COMPLETED, fold_job.error

        # A second docking with one setting changed, made from the first.
        again = engine.service.duplicate(me, docking.id, settings={"exhaustiveness": 2})
        engine.wait(timeout=300)
        again_job = engine.service.get(me, again.id).job
        assert again_job.status is JobStatus.COMPLETED, again_job.error
        views = {j: engine.service.get(me, j) for j in (docking.id, fold.id, again.id)}
        exports = {j: json.loads(engine.service.export(me, j, "json")) for j in views}
    finally:
        engine.close()

    # -- what the Vina job recorded ------------------------------------------------
    p = dock_job.provenance
    assert p is not None and p.tool == "autodock-vina" and p.tool_version == "1"
    assert p.attempt == 1 and p.derived_from is None
    installed = {s.name: s.version for s in p.software}
    for name in (*VINA_LIBRARIES, "proteiniq-jupyter"):
        assert installed[name] == importlib.metadata.version(name), name
    assert p.models == ()  # Vina loads no weights
    assert p.worker is not None and p.worker.host == socket.gethostname()
    assert p.worker.cpus == machine_cpus() and p.worker.threads is not None
    assert 1 <= p.worker.threads <= p.worker.cpus
    assert p.inputs_fingerprint == provenance.inputs_fingerprint(dock_job.inputs)
    assert p.settings_fingerprint == provenance.settings_fingerprint(dock_job.settings)
    assert p.recorded_at is not None and dock_job.started_at is not None
    assert abs((p.recorded_at - dock_job.started_at).total_seconds()) < 1

    # -- the ESMFold job names the weights it loaded -----------------------------
    f = fold_job.provenance
    assert f is not None and f.tool == "esmfold"
    assert f.models == (
        ModelWeights(tiny_model.name, str(tiny_model), index_fingerprint(tiny_model)),
    )
    assert f.models[0].fingerprint is not None and f.models[0].fingerprint.startswith("sha256:")
    folded = {s.name: s.version for s in f.software}
    assert folded["torch"] == importlib.metadata.version("torch")
    assert folded["transformers"] == importlib.metadata.version("transformers")

    # -- the same record in the API resource, the export and ``piq show`` --------
    env = {
        "PIQ_DATABASE_URL": database_url,
        "PIQ_DATA_DIR": str(config.data_dir),
        "PIQ_USER": "alice",
    }
    for job_id, view in views.items():
        resource = api.Job.of(view)
        assert isinstance(resource.provenance, api.JobProvenance)
        body = json.loads(api.render(resource))
        assert body["provenance"] == provenance.record(view.job.provenance)
        assert exports[job_id]["provenance"] == body["provenance"]
        shown = json.loads(piq(env, "show", job_id, "--json"))
        assert shown["provenance"] == body["provenance"]
    text = piq(env, "show", fold.id)
    shown_lines = [line.split() for line in text.splitlines()]
    assert ["weights", tiny_model.name, str(tiny_model)] in shown_lines
    assert ["fingerprint", f.models[0].fingerprint] in shown_lines
    assert ["transformers", importlib.metadata.version("transformers")] in shown_lines
    text = piq(env, "show", docking.id)
    shown_lines = [line.split() for line in text.splitlines()]
    assert ["vina", importlib.metadata.version("vina")] in shown_lines
    assert ["attempt", "1"] in shown_lines and socket.gethostname() in text

    # -- a public page tells versions and fingerprints, not the host or its paths -
    public = json.loads(api.render(api.PublicJob.of(views[fold.id], "/files")))["provenance"]
    assert public["worker"]["host"] == "" and public["worker"]["cpus"] == machine_cpus()
    assert public["models"] == [
        {
            "name": tiny_model.name,
            "location": tiny_model.name,
            "fingerprint": f.models[0].fingerprint,
        }
    ]
    assert all(s["path"] is None for s in public["software"])
    told = json.dumps(public)
    assert str(tiny_model) not in told and socket.gethostname() not in told

    # -- a duplicate says where it came from; ``diff`` shows what changed -------
    d = again_job.provenance
    assert d is not None and d.derived_from == docking.id
    assert d.derivation is Derivation.DUPLICATE and d.attempt == 1
    assert d.settings_fingerprint != p.settings_fingerprint
    assert d.inputs_fingerprint == p.inputs_fingerprint

    # The copy ran where another Vina was installed: its record says so.
    older = tuple(replace(s, version="1.2.5") if s.name == "vina" else s for s in d.software)
    reopened = open_engine(config, executor="inprocess")
    try:
        with reopened.store.write() as tx:
            row = tx.get_job(again.id, for_update=True)
            assert row is not None and row.provenance is not None
            tx.update_job(replace(row, provenance=replace(row.provenance, software=older)))
    finally:
        reopened.close()

    text = piq(env, "diff", docking.id, again.id)
    lines = [line.split() for line in text.splitlines()]
    assert ["exhaustiveness", "1", "->", "2"] in lines
    assert ["library.vina", importlib.metadata.version("vina"), "->", "1.2.5"] in lines
    assert "inputs: same" in text
    data = json.loads(piq(env, "diff", docking.id, again.id, "--json"))
    changes = {(c["section"], c["field"]): (c["a"], c["b"]) for c in data["changes"]}
    assert changes[("settings", "exhaustiveness")] == (1, 2)
    assert changes[("provenance", "library.vina")] == (
        importlib.metadata.version("vina"),
        "1.2.5",
    )
    assert changes[("provenance", "derived_from.job_id")] == (None, docking.id)
    assert not any(section == "inputs" for section, _ in changes)
    assert data["same"] is False and (data["a"], data["b"]) == (docking.id, again.id)
    same = json.loads(piq(env, "diff", docking.id, docking.id, "--json"))
    assert same["same"] is True and same["changes"] == []


def _sequence(sequence: str) -> JobInput:
    return JobInput(
        id="s", slot_id="sequence", kind="protein", format="fasta", content=f">p\n{sequence}\n"
    )


# -- retries, duplicates and the lease -------------------------------------------------


def _echo(service: JobService, actor: Actor, text: str = "hello") -> str:
    item = JobInput(id="t", slot_id="text", kind="text", format="text", content=text)
    return service.submit(actor, "echo", [item]).id


def test_a_retried_attempt_records_itself_and_keeps_where_the_job_came_from(
    service: JobService, alice: Actor
) -> None:
    runs = service.runs
    environment = run_environment(Echo(), 2)
    job_id = _echo(service, alice)
    started = runs.start(job_id, holder="w1", environment=environment)
    assert started is not None and started.provenance is not None
    assert started.provenance.attempt == 1 and started.provenance.worker == environment.worker
    runs.fail(job_id, "the worker died", transient=True, holder="w1")
    waiting = service.get(alice, job_id).job
    assert waiting.status is JobStatus.RETRY
    assert waiting.provenance == started.provenance  # the first attempt's record stays
    again = runs.start(job_id, holder="w2", environment=environment)
    assert again is not None and again.provenance is not None and again.provenance.attempt == 2
    runs.fail(job_id, "bad luck", holder="w2")

    retried = service.retry(alice, job_id)
    assert retried.origin_job_id == job_id and retried.provenance is not None
    assert (retried.provenance.derived_from, retried.provenance.derivation) == (
        job_id,
        Derivation.RETRY,
    )
    ran = runs.start(retried.id, holder="w3", environment=environment)
    assert ran is not None and ran.provenance is not None
    assert ran.provenance.derivation is Derivation.RETRY and ran.provenance.attempt == 1
    runs.complete(ran.id, ToolResult(fields={"echo": "hello"}), holder="w3")
    copy = service.duplicate(alice, ran.id)
    body = json.loads(api.render(api.Job.of(service.get(alice, copy.id))))
    assert body["provenance"]["derived_from"] == {"job_id": ran.id, "how": "duplicate"}
    assert body["provenance"]["tool"] is None  # recorded when it runs


def test_only_the_run_holding_the_job_writes_its_provenance(
    service: JobService, alice: Actor
) -> None:
    runs = service.runs
    job_id = _echo(service, alice)
    assert runs.start(job_id, holder="w1", environment=run_environment(Echo(), 1)) is not None
    weights = ModelWeights("m", "/models/m", "sha256:00")
    runs.record_models(job_id, [weights], holder="someone-else")
    job = service.get(alice, job_id).job
    assert job.provenance is not None and job.provenance.models == ()
    runs.record_models(job_id, [weights], holder="w1")
    runs.record_models(job_id, [weights], holder="w1")  # listed once
    job = service.get(alice, job_id).job
    assert job.provenance is not None and job.provenance.models == (weights,)
    # A run that lost the job before it started records nothing at all.
    other = _echo(service, alice, "other")
    assert runs.claim(other, "w2", lease_ttl_s=60) is not None
    assert runs.start(other, holder="w3", environment=run_environment(Echo(), 1)) is None
    assert service.get(alice, other).job.provenance is None


def test_a_program_is_recorded_with_what_it_says_its_version_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "folder_tool"
    script.write_text("#!/bin/sh\necho 'folder_tool 3.1.4'\n")
    script.chmod(0o755)
    spec = Program(name="folder_tool", env_var="PIQ_TEST_FOLDER_TOOL_BIN", install_hint="")
    monkeypatch.setenv(spec.env_var, str(script))
    assert program(spec) == Software(
        name="folder_tool", kind="program", version="folder_tool 3.1.4", path=str(script)
    )
    missing = program(Program(name="no-such-program-here", env_var="PIQ_NONE", install_hint=""))
    assert missing.version is None and missing.path is None


def test_inputs_that_differ_are_named_by_place_and_long_ones_by_size() -> None:
    from proteiniq_jupyter.jobs.comparison import comparable, compare, diff_text

    def record(content: str, tool: str = "echo") -> dict[str, Any]:
        item = {"slotId": "text", "format": "text", "content": content}
        return comparable(tool, [item], {"repeat": 1}, None)

    long_a, long_b = "A" * 500, "A" * 499 + "B"
    changes = compare(record(long_a), record(long_b))
    assert [(c.section, c.field) for c in changes] == [("inputs", "1.content")]
    assert str(changes[0].a).startswith("500 characters, 1 line(s), sha256 ")
    assert changes[0].a != changes[0].b
    short = compare(record("hello"), record("hullo", tool="echo-2"))
    assert [(c.section, c.field, c.a, c.b) for c in short] == [
        ("tool", "tool", "echo", "echo-2"),
        ("inputs", "1.content", "hello", "hullo"),
    ]
    text = diff_text("job_a", "job_b", short)
    assert "settings: same" in text and "provenance: same" in text
    assert ["1.content", "hello", "->", "hullo"] in [line.split() for line in text.splitlines()]
