"""The store's JSON for a job's inputs and result: every field survives the round
trip, the stored form is pinned, and a row written in that form reads back as the
right objects, from the codec and from a real database."""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import text

from proteiniq_jupyter.jobs.model import JobInput, ResultFile, ToolResult, new_id
from proteiniq_jupyter.store import codec
from proteiniq_jupyter.store.sql_store import SqlStore

from .conftest import text_input

EVERY_INPUT = (
    JobInput(id="text_1", slot_id="text", kind="text", format="text", content="plain"),
    JobInput(
        id="protein_1",
        slot_id="protein",
        kind="structure",
        format="pdb",
        content="ATOM      1  N   MET A   1\n",
        label="Lysozyme — T4 (λ) 🧬",
        file_id="file_0123456789abcdef",
    ),
    JobInput(
        id="protein_2",
        slot_id="protein",
        kind="structure",
        format="pdb",
        content="HEADER    HYDROLASE\n",
        label="1UBQ",
        pdb_id="1UBQ",
    ),
    JobInput(id="s", slot_id="s", kind="sequence", format="fasta", content=">α\nMKV\n", label=""),
)

EVERY_RESULT = ToolResult(
    fields={"score": -7.25, "name": "pose ✓", "ok": True, "missing": None, "nested": {"a": [1]}},
    rows=[{"pose": 1, "affinity": -7.25}, {"pose": 2, "affinity": -6.5, "note": "δ"}],
    files=[
        ResultFile(name="poses.sdf", format="sdf", size=2048),
        ResultFile(name="report.json", format="json", size=12, content_type="application/json"),
        ResultFile(name="raw.bin", format="bin", size=0, content_type="application/x-custom"),
    ],
)

#: The stored form of ``EVERY_INPUT[:3]`` and ``EVERY_RESULT``, key order included:
#: changing it changes what every database holds.
STORED_INPUTS = (
    '[{"id": "text_1", "slotId": "text", "kind": "text", "format": "text", '
    '"content": "plain", "source": {"type": "text"}}, '
    '{"id": "protein_1", "slotId": "protein", "kind": "structure", "format": "pdb", '
    '"content": "ATOM      1  N   MET A   1\\n", '
    '"source": {"type": "file", "file_id": "file_0123456789abcdef"}, '
    '"label": "Lysozyme \\u2014 T4 (\\u03bb) \\ud83e\\uddec"}, '
    '{"id": "protein_2", "slotId": "protein", "kind": "structure", "format": "pdb", '
    '"content": "HEADER    HYDROLASE\\n", "source": {"type": "pdb", "id": "1UBQ"}, '
    '"label": "1UBQ"}]'
)
STORED_RESULT = (
    '{"fields": {"score": -7.25, "name": "pose \\u2713", "ok": true, "missing": null, '
    '"nested": {"a": [1]}}, '
    '"rows": [{"pose": 1, "affinity": -7.25}, {"pose": 2, "affinity": -6.5, "note": "\\u03b4"}], '
    '"files": [{"name": "poses.sdf", "format": "sdf", "size": 2048, '
    '"content_type": "chemical/x-mdl-sdfile"}, '
    '{"name": "report.json", "format": "json", "size": 12, "content_type": "application/json"}, '
    '{"name": "raw.bin", "format": "bin", "size": 0, "content_type": "application/x-custom"}]}'
)


def _through_json(data: object) -> object:
    return json.loads(json.dumps(data))


def test_every_input_field_survives_the_round_trip():
    stored = _through_json(codec.encode_inputs(EVERY_INPUT))
    assert isinstance(stored, list)
    assert codec.decode_inputs(stored) == EVERY_INPUT
    assert codec.decode_inputs(None) == ()
    assert codec.decode_inputs([]) == ()


def test_every_result_field_survives_the_round_trip():
    stored = _through_json(codec.encode_result(EVERY_RESULT))
    assert isinstance(stored, dict)
    assert codec.decode_result(stored) == EVERY_RESULT
    assert codec.decode_result(_through_json(codec.encode_result(ToolResult()))) == ToolResult()


def test_settings_are_kept_as_given():
    settings = {"exhaustiveness": 8, "mode": "fast", "seeds": [1, 2], "note": "ü"}
    assert codec.decode_settings(_through_json(codec.encode_settings(settings))) == settings
    assert codec.decode_settings(None) == {}


def test_the_stored_form_is_pinned():
    assert json.dumps(codec.encode_inputs(EVERY_INPUT[:3])) == STORED_INPUTS
    assert json.dumps(codec.encode_result(EVERY_RESULT)) == STORED_RESULT
    assert codec.encode_input(EVERY_INPUT[3]) == {
        "id": "s",
        "slotId": "s",
        "kind": "sequence",
        "format": "fasta",
        "content": ">α\nMKV\n",
        "source": {"type": "text"},
        "label": "",
    }


def test_stored_json_reads_back_as_the_domain_objects():
    assert codec.decode_inputs(json.loads(STORED_INPUTS)) == EVERY_INPUT[:3]
    assert codec.decode_result(json.loads(STORED_RESULT)) == EVERY_RESULT


def test_a_row_written_in_the_stored_form_reads_back_from_the_database(service, alice, store):
    job = service.submit(alice, "echo", [text_input("replaced")])
    assert isinstance(store, SqlStore)
    value = ":value" if store.engine.dialect.name == "sqlite" else "CAST(:value AS JSON)"
    with store.engine.begin() as conn:
        for column, stored in (("inputs", STORED_INPUTS), ("result", STORED_RESULT)):
            conn.execute(
                text(f"UPDATE jobs SET {column} = {value} WHERE id = :id"),
                {"value": stored, "id": job.id},
            )
    with store.read() as tx:
        read = tx.get_job(job.id)
    assert read is not None
    assert read.inputs == EVERY_INPUT[:3]
    assert read.result == EVERY_RESULT
    assert read.settings == job.settings


def test_the_store_writes_the_stored_form(service, alice, store):
    submitted = service.submit(alice, "echo", [text_input("template")])
    job = replace(submitted, id=new_id("job"), inputs=EVERY_INPUT[:3], result=EVERY_RESULT)
    with store.write() as tx:
        tx.insert_job(job, None, None)
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT CAST(inputs AS TEXT), CAST(result AS TEXT) FROM jobs WHERE id = :id"),
            {"id": job.id},
        ).one()
    assert tuple(row) == (STORED_INPUTS, STORED_RESULT)
