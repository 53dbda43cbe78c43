"""Two jobs side by side: what differs in their inputs, settings and provenance.

Both sides are records in the API's shapes (a job's ``input.inputs``, ``settings``
and ``provenance``), so a comparison reads the same whether the jobs came from the
store or over HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .model import JsonDict

SECTIONS = ("tool", "inputs", "settings", "provenance")
#: Provenance that differs between any two runs and says nothing of what ran:
#: when it was recorded, and the prints of inputs and settings (compared as such).
_NOT_COMPARED = frozenset({"recorded_at", "fingerprints"})
#: Input content longer than this is shown by its size and print, not in full.
_CONTENT_SHOWN = 60


@dataclass(frozen=True)
class Change:
    """One field that differs: ``a`` and ``b`` are its values (None where a side
    has no such field)."""

    section: str
    field: str
    a: Any
    b: Any

    def to_dict(self) -> JsonDict:
        return {"section": self.section, "field": self.field, "a": self.a, "b": self.b}


def comparable(
    tool: str, inputs: list[JsonDict], settings: JsonDict | None, provenance: JsonDict | None
) -> JsonDict:
    """What a comparison reads of one job."""
    return {
        "tool": tool,
        "inputs": inputs,
        "settings": settings or {},
        "provenance": provenance or {},
    }


def compare(a: JsonDict, b: JsonDict) -> list[Change]:
    """Every difference between two ``comparable`` records, section by section."""
    changes: list[Change] = []
    if a["tool"] != b["tool"]:
        changes.append(Change("tool", "tool", a["tool"], b["tool"]))
    changes += _pairs("inputs", _input_fields(a["inputs"]), _input_fields(b["inputs"]))
    changes += _pairs("settings", dict(_flat(a["settings"])), dict(_flat(b["settings"])))
    changes += _pairs(
        "provenance", _provenance_fields(a["provenance"]), _provenance_fields(b["provenance"])
    )
    return changes


def _pairs(section: str, a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    return [
        Change(section, name, a.get(name), b.get(name))
        for name in dict.fromkeys([*a, *b])
        if a.get(name) != b.get(name)
    ]


def _flat(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mappings as dotted names; lists stay whole values."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flat(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif prefix:
        yield prefix, value


def _content(text: str) -> str:
    if len(text) <= _CONTENT_SHOWN and "\n" not in text:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{len(text)} characters, {len(text.splitlines())} line(s), sha256 {digest}"


def _input_fields(inputs: list[JsonDict]) -> dict[str, Any]:
    fields: dict[str, Any] = {"count": len(inputs)}
    for i, item in enumerate(inputs):
        place = f"{i + 1}"
        fields[f"{place}.slot"] = item.get("slotId")
        fields[f"{place}.format"] = item.get("format")
        fields[f"{place}.content"] = _content(str(item.get("content") or ""))
    return fields


def _provenance_fields(provenance: JsonDict) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in provenance.items():
        if key in _NOT_COMPARED:
            continue
        if key == "software":
            for item in value or ():
                fields[f"{item.get('kind', 'library')}.{item['name']}"] = item.get("version")
                if item.get("path"):
                    fields[f"{item.get('kind', 'library')}.{item['name']}.path"] = item["path"]
        elif key == "models":
            for item in value or ():
                fields[f"model.{item['name']}"] = item.get("location")
                fields[f"model.{item['name']}.fingerprint"] = item.get("fingerprint")
        else:
            fields.update(_flat(value, key) if isinstance(value, dict) else [(key, value)])
    return fields


# -- as text ------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def diff_text(a_id: str, b_id: str, changes: list[Change]) -> str:
    """The comparison for a terminal: each section's changed fields, a -> b, and
    the sections that are the same."""
    out = [f"{a_id} -> {b_id}"]
    for section in SECTIONS:
        mine = [c for c in changes if c.section == section]
        if not mine:
            if section != "tool":
                out.append(f"{section}: same")
            continue
        out.append(f"{section}:")
        width = max(len(c.field) for c in mine)
        for c in mine:
            out.append(f"  {c.field.ljust(width)}  {_shown(c.a)} -> {_shown(c.b)}")
    return "\n".join(out)
