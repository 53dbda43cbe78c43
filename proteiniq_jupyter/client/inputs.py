"""Turning what a scientist holds into a job's input items and settings.

Keywords name the tool's slots and settings; a single positional argument goes to
the tool's one required slot. A value may be text, a ``pathlib.Path`` or a path
string of an existing file, ``"pdb:1FKN"``, an RDKit ``Mol``, a Biopython
``SeqRecord``, a gemmi ``Structure``, a pandas ``Series`` or a list of any of
those, or another job's output (``job.output("structure")``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import api
from ..jobs.errors import ValidationError
from ..tools.formats import (
    FORMAT_ALIASES,
    extension,
    looks_like_file_name,
    pdb_entry,
    slot_format,
)
from .transport import JsonBody


@dataclass(frozen=True)
class Output:
    """Another job's output, as an input of a new one (``job.output(name)``)."""

    job_id: str
    name: str
    format: str
    content: str


@dataclass(frozen=True)
class _Item:
    content: str
    format: str | None = None
    label: str | None = None
    pdb_id: str | None = None


def request_parts(
    tool: api.ToolDetail, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[list[JsonBody], JsonBody]:
    """The ``input.inputs`` items and the settings of a request for ``tool``."""
    slots = {slot.id: slot for slot in tool.input.slots}
    properties: dict[str, Any] = tool.input.settings.get("properties", {})
    given: dict[str, Any] = {}
    if len(args) > 1:
        raise ValidationError(f"{tool.id} takes one positional input; name the others")
    if args:
        required = [s.id for s in tool.input.slots if s.required]
        if len(required) != 1:
            raise ValidationError(
                f"{tool.id} has {len(required)} required inputs ({', '.join(required)}): "
                "give each by name"
            )
        given[required[0]] = args[0]
    settings: JsonBody = {}
    for key, value in kwargs.items():
        if key in slots:
            if key in given:
                raise ValidationError(f"{key} given twice")
            given[key] = value
        elif key in properties:
            settings[key] = value
        else:
            raise unknown_keyword(tool, key)
    inputs: list[JsonBody] = []
    for slot_id, value in given.items():
        slot = slots[slot_id]
        for number, item in enumerate(_items(slot, value), start=1):
            body: JsonBody = {
                "id": f"{slot_id}_{number}",
                "slotId": slot_id,
                "kind": slot.kind,
                "format": item.format or _sniff(slot, item.content),
                "content": item.content,
            }
            if item.label:
                body["label"] = item.label
            if item.pdb_id:
                body["source"] = {"type": "pdb", "id": item.pdb_id}
            inputs.append(body)
    return inputs, settings


def unknown_keyword(tool: api.ToolDetail, key: str) -> ValidationError:
    slots = [s.id for s in tool.input.slots]
    settings = list(tool.input.settings.get("properties", {}))
    nearest = difflib.get_close_matches(key, [*slots, *settings], n=1, cutoff=0.5)
    message = (
        f"{tool.id} has no input or setting {key!r}"
        + (f" (did you mean {nearest[0]!r}?)" if nearest else "")
        + f"; inputs: {', '.join(slots) or 'none'}; settings: {', '.join(settings) or 'none'}"
    )
    return ValidationError(message, errors=[{"field": key, "message": "unknown"}])


def _items(slot: api.InputSlot, value: Any) -> list[_Item]:
    """The items one keyword's value makes: several values of a molecule slot go in
    one item, one per line or SDF record, as the tools read them."""
    values = _as_list(value)
    items = [_item(slot, v) for v in values]
    if len(items) > 1 and slot.kind in ("ligand", "molecule", "protein"):
        formats = {i.format or _sniff(slot, i.content) for i in items}
        if len(formats) == 1:
            fmt = formats.pop()
            joiner = "" if fmt in ("sdf", "mol") else "\n"
            text = joiner.join(
                i.content if i.content.endswith("\n") else i.content + "\n" for i in items
            )
            return [_Item(text, fmt)]
    return items


def _as_list(value: Any) -> list[Any]:
    module = type(value).__module__
    if module.startswith("pandas"):
        index = [str(i) for i in value.index]
        return [_named(v, index[n]) for n, v in enumerate(value.tolist())]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


@dataclass(frozen=True)
class _NamedText:
    name: str
    text: str


def _named(value: Any, name: str) -> Any:
    return _NamedText(name, value) if isinstance(value, str) else value


def _item(slot: api.InputSlot, value: Any) -> _Item:
    module = type(value).__module__
    if isinstance(value, Output):
        return _Item(
            value.content, _slot_format(slot, value.format), f"{value.job_id}:{value.name}"
        )
    if isinstance(value, Path):
        return _file(slot, value)
    if isinstance(value, _NamedText):
        if slot.kind == "protein" and not value.text.lstrip().startswith(">"):
            return _Item(f">{value.name}\n{value.text}\n", _slot_format(slot, "fasta"))
        return _item(slot, value.text)
    if isinstance(value, str):
        return _text(slot, value)
    if module.startswith("rdkit"):
        return _molecule(slot, value)
    if module.startswith("Bio"):
        return _Item(f">{value.id} {value.description}".rstrip() + f"\n{value.seq}\n", "fasta")
    if module.startswith("gemmi"):
        if "pdb" in slot.formats or not slot.formats:
            return _Item(value.make_pdb_string(), "pdb", value.name or None)
        return _Item(value.make_mmcif_document().as_string(), "mmcif", value.name or None)
    if isinstance(value, bytes):
        return _text(slot, value.decode("utf-8"))
    raise ValidationError(
        f"{slot.id}: cannot use a {type(value).__name__} as input; give text, a file path, "
        "pdb:ID, an RDKit Mol, a SeqRecord, a gemmi Structure, a pandas Series or a job output",
        errors=[{"field": slot.id, "message": f"unsupported type {type(value).__name__}"}],
    )


def _text(slot: api.InputSlot, text: str) -> _Item:
    stripped = text.strip()
    entry = pdb_entry(slot.kind, stripped)
    if entry is not None:
        return _Item("", "pdb", None, entry)
    if "\n" not in stripped and len(stripped) < 4096:
        path = Path(stripped).expanduser()
        if path.is_file():
            return _file(slot, path)
        if looks_like_file_name(stripped) and slot.kind not in ("text",):
            raise ValidationError(
                f"{slot.id}: no such file {stripped!r}",
                errors=[{"field": slot.id, "message": f"no such file {stripped!r}"}],
            )
    return _Item(text)


def _file(slot: api.InputSlot, path: Path) -> _Item:
    try:
        content = path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(
            f"{slot.id}: no such file {str(path)!r}",
            errors=[{"field": slot.id, "message": f"no such file {str(path)!r}"}],
        ) from None
    except (IsADirectoryError, UnicodeDecodeError, OSError) as exc:
        raise ValidationError(f"{slot.id}: cannot read {str(path)!r}: {exc}") from None
    ext = extension(path)
    return _Item(content, slot_format(slot.formats, ext) or FORMAT_ALIASES.get(ext, ext), path.name)


def _molecule(slot: api.InputSlot, mol: Any) -> _Item:
    from rdkit import Chem

    three_d = mol.GetNumConformers() > 0 and mol.GetConformer().Is3D()
    name = mol.GetProp("_Name") if mol.HasProp("_Name") else None
    if "sdf" in slot.formats and (three_d or not _takes_smiles(slot)):
        return _Item(Chem.MolToMolBlock(mol) + "$$$$\n", "sdf", name or None)
    smiles = Chem.MolToSmiles(mol)
    return _Item(f"{smiles} {name}" if name else smiles, _slot_format(slot, "smiles"), name or None)


def _takes_smiles(slot: api.InputSlot) -> bool:
    return any(f in slot.formats for f in ("smiles", "smi"))


def _slot_format(slot: api.InputSlot, fmt: str) -> str:
    """``fmt`` as the slot names it (see ``slot_format``), or ``fmt`` itself for
    the tool to refuse with the formats it takes."""
    return slot_format(slot.formats, fmt) or fmt


def _sniff(slot: api.InputSlot, content: str) -> str:
    """The format of text given without one."""
    head = content.lstrip()
    if head.startswith(">") and "fasta" in slot.formats:
        return "fasta"
    if slot.kind == "structure":
        return "mmcif" if head.startswith("data_") and "mmcif" in slot.formats else "pdb"
    if slot.kind in ("ligand", "molecule") and ("M  END" in content or "$$$$" in content):
        return _slot_format(slot, "sdf")
    if slot.kind in ("ligand", "molecule"):
        return _slot_format(slot, "smiles")
    if "text" in slot.formats:
        return "text"
    return slot.formats[0] if slot.formats else ""
