"""The JSON the store keeps for a job: its inputs, its settings and its result.

Each shape is written out here field by field, apart from the API's shapes, so a
change to what the API answers never changes a stored row, and every row already
written reads back as it was. The same encoding carries a job's inputs to its job
process and the result back.

Stored forms::

    input   {"id", "slotId", "kind", "format", "content", "source"[, "label"]}
            source: {"type": "text"} | {"type": "file", "file_id"} | {"type": "pdb", "id"}
    result  {"fields": {...}, "rows": [{...}], "files": [file]}
    file    {"name", "format", "size", "content_type"}
    provenance  ``jobs.provenance.record``'s form: {"derived_from", "recorded_at",
            "attempt", "tool", "software", "models", "worker", "fingerprints"}
"""

from __future__ import annotations

from collections.abc import Iterable

from ..jobs import provenance as provenance_record
from ..jobs.model import JobInput, JsonDict, ResultFile, ToolResult
from ..jobs.provenance import Provenance


def encode_input(item: JobInput) -> JsonDict:
    source: JsonDict = {"type": "text"}
    if item.file_id:
        source = {"type": "file", "file_id": item.file_id}
    elif item.pdb_id is not None:
        source = {"type": "pdb", "id": item.pdb_id}
    data: JsonDict = {
        "id": item.id,
        "slotId": item.slot_id,
        "kind": item.kind,
        "format": item.format,
        "content": item.content,
        "source": source,
    }
    if item.label is not None:
        data["label"] = item.label
    return data


def decode_input(data: JsonDict) -> JobInput:
    source = data.get("source")
    source = source if isinstance(source, dict) else {}
    file_id = source.get("file_id")
    pdb_id = str(source.get("id") or "") if source.get("type") == "pdb" else None
    return JobInput(
        id=str(data.get("id") or data.get("slotId") or ""),
        slot_id=str(data.get("slotId") or data.get("slot_id") or ""),
        kind=str(data.get("kind") or ""),
        format=str(data.get("format") or ""),
        content=str(data.get("content") or ""),
        # As stored: a label is always text when written.
        label=data.get("label"),
        file_id=str(file_id) if file_id else None,
        pdb_id=pdb_id,
    )


def encode_inputs(items: Iterable[JobInput]) -> list[JsonDict]:
    return [encode_input(item) for item in items]


def decode_inputs(data: Iterable[JsonDict] | None) -> tuple[JobInput, ...]:
    return tuple(decode_input(item) for item in data or ())


def encode_settings(settings: JsonDict) -> JsonDict:
    """A tool's settings are its own mapping and are kept as given."""
    return settings


def decode_settings(data: JsonDict | None) -> JsonDict:
    return dict(data or {})


def encode_file(file: ResultFile) -> JsonDict:
    return {
        "name": file.name,
        "format": file.format,
        "size": file.size,
        "content_type": file.content_type,
    }


def decode_file(data: JsonDict) -> ResultFile:
    return ResultFile(
        name=str(data["name"]),
        format=str(data["format"]),
        size=int(data["size"]),
        content_type=str(data.get("content_type") or ""),
    )


def encode_result(result: ToolResult) -> JsonDict:
    return {
        "fields": result.fields,
        "rows": result.rows,
        "files": [encode_file(f) for f in result.files],
    }


def decode_result(data: JsonDict) -> ToolResult:
    return ToolResult(
        fields=dict(data.get("fields") or {}),
        rows=list(data.get("rows") or []),
        files=[decode_file(f) for f in data.get("files") or []],
    )


def encode_provenance(provenance: Provenance | None) -> JsonDict | None:
    return None if provenance is None else provenance_record.record(provenance)


def decode_provenance(data: JsonDict | None) -> Provenance | None:
    return provenance_record.from_record(data)
