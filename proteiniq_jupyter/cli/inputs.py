"""Turning command-line arguments into job inputs and settings: ``--input SLOT=...``,
bare arguments, ``--set`` and ``--settings-json``, and input files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..jobs.model import JobInput, JsonDict
from ..tools.base import InputSlot, Tool
from ..tools.formats import extension, looks_like_file_name, pdb_entry, slot_format


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_settings(pairs: Sequence[str], settings_json: str | None) -> JsonDict | None:
    """``--settings-json`` first, then each ``--set key=value`` over it."""
    settings: JsonDict = {}
    if settings_json:
        try:
            loaded = json.loads(settings_json)
        except ValueError as exc:
            raise click.UsageError(f"--settings-json is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.UsageError("--settings-json must be a JSON object")
        settings.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--set takes KEY=VALUE, got {pair!r}")
        settings[key.strip()] = _parse_value(value)
    return settings or None


def _format_for(slot: InputSlot | None, path: Path | None) -> str:
    """The file's extension when the slot takes it (or a synonym of it), otherwise
    the slot's first format."""
    if slot is None:
        return extension(path) if path is not None else ""
    if path is not None:
        taken = slot_format(slot.formats, extension(path))
        if taken:
            return taken
    return slot.formats[0] if slot.formats else ""


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.UsageError(f"no such input file: {path}") from None
    except IsADirectoryError:
        raise click.UsageError(f"input {path} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"input file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise click.UsageError(f"cannot read input file {path}: {exc.strerror}") from None


def _looks_like_file(tool: Tool, value: str) -> bool:
    """A bare argument ending in a file extension of a format (``seqs.fasta``,
    ``receptor.pdb``) names a file, even when there is no such file: it is not
    sequence or SMILES text."""
    return looks_like_file_name(value, {f for slot in tool.slots for f in slot.formats})


def _parse_inputs(
    tool: Tool, pairs: Sequence[str], bare: Sequence[str], *, bare_slot: str | None = None
) -> list[JobInput]:
    """``--input SLOT=@path``, ``--input SLOT=pdb:ID`` (a structure slot: the entry
    is fetched at submit) and ``--input SLOT=text``; a bare argument goes to the
    tool's first slot (read as a file when such a file exists). Slot names and
    formats are not checked here: the tool reports them with the other problems."""
    slots = {slot.id: slot for slot in tool.slots}
    items: list[tuple[str, str, Path | None, str | None]] = []
    for pair in pairs:
        slot_id, sep, value = pair.partition("=")
        slot_id = slot_id.strip()
        if not sep or not slot_id:
            raise click.UsageError(
                f"--input takes SLOT=@FILE, SLOT=pdb:ID or SLOT=TEXT, got {pair!r}"
            )
        slot = slots.get(slot_id)
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            items.append((slot_id, _read_file(path), path, None))
        elif slot is not None and (entry := pdb_entry(slot.kind, value)) is not None:
            items.append((slot_id, "", None, entry))
        else:
            items.append((slot_id, value, None, None))
    for value in bare:
        if not tool.slots:
            raise click.UsageError(f"{tool.id} takes no inputs")
        candidate = Path(value).expanduser()
        if candidate.is_file() or _looks_like_file(tool, value):
            items.append((bare_slot or tool.slots[0].id, _read_file(candidate), candidate, None))
        else:
            items.append((bare_slot or tool.slots[0].id, value, None, None))
    inputs: list[JobInput] = []
    counts: dict[str, int] = {}
    for slot_id, content, source, pdb_id in items:
        counts[slot_id] = counts.get(slot_id, 0) + 1
        slot = slots.get(slot_id)
        inputs.append(
            JobInput(
                id=f"{slot_id}_{counts[slot_id]}",
                slot_id=slot_id,
                kind=slot.kind if slot is not None else "",
                format="pdb" if pdb_id is not None else _format_for(slot, source),
                content=content,
                label=source.name if source is not None else None,
                pdb_id=pdb_id,
            )
        )
    return inputs
