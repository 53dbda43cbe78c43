"""Small helpers the free tools share: gathering located input errors, size limits,
output file names, FASTA writing and the one-row summary of a job."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import pydantic

from ..jobs.errors import ValidationError
from ..jobs.model import JobInput, JsonDict
from .base import input_error

#: How many located problems one ValidationError lists before summarising the rest;
#: a file with a systematic fault would otherwise produce thousands of entries.
MAX_REPORTED_ERRORS = 20

SettingsT = TypeVar("SettingsT", bound=pydantic.BaseModel)


class ErrorList:
    """Collects located problems for one input and raises them together, so a user
    fixes every fault in one pass rather than one per submission."""

    def __init__(self, *, index: int | None = None, slot: str | None = None) -> None:
        self.index = index
        self.slot = slot
        self.errors: list[dict[str, Any]] = []
        self.dropped = 0

    def add(self, message: str, **place: Any) -> None:
        if len(self.errors) >= MAX_REPORTED_ERRORS:
            self.dropped += 1
            return
        self.errors.append(input_error(message, index=self.index, slot=self.slot, **place))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        errors = list(self.errors)
        if self.dropped:
            errors.append(
                input_error(
                    f"... and {self.dropped} more problem(s) of the same kind",
                    index=self.index,
                    slot=self.slot,
                )
            )
        raise ValidationError("; ".join(e["message"] for e in errors), errors=errors)


def fail(message: str, *, index: int | None = None, slot: str | None = None, **place: Any) -> None:
    """Raise a ValidationError with a single located problem."""
    errors = [input_error(message, index=index, slot=slot, **place)]
    raise ValidationError(message, errors=errors)


def check_size(item: JobInput, index: int, max_bytes: int) -> None:
    """Reject an input larger than the tool's limit before parsing it."""
    size = len(item.content.encode("utf-8"))
    if size > max_bytes:
        fail(
            f"input {index + 1} ({item.slot_id}) is {size:,} bytes; "
            f"the limit is {max_bytes:,} bytes",
            index=index,
            slot=item.slot_id,
        )


def split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: split on newlines only (``str.splitlines``
    also splits on form feeds and other separators, shifting line numbers)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def entry_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, line, the line stripped) for each line that holds an entry of a
    one-per-line list: blank lines and '#' comments are skipped, numbers kept."""
    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line, stripped


def settings_as(settings: pydantic.BaseModel, model: type[SettingsT]) -> SettingsT:
    """The tool's own settings type, whether the caller passed it or a look-alike."""
    if isinstance(settings, model):
        return settings
    return model.model_validate(settings.model_dump())


def only_item(inputs: Sequence[JobInput], slot_id: str) -> tuple[int, JobInput]:
    """The single item of a one-item slot (``validate`` has already checked it exists)."""
    for index, item in enumerate(inputs):
        if item.slot_id == slot_id:
            return index, item
    fail(f"missing input for slot {slot_id!r}", slot=slot_id)
    raise AssertionError("unreachable")


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def file_stem(item: JobInput, default: str) -> str:
    """A plain file name stem from the input's label, without its extension, so the
    output of ``1abc.pdb`` is ``1abc.cif``."""
    label = (item.label or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    if "." in label:
        label = label.rsplit(".", 1)[0]
    stem = _UNSAFE.sub("_", label).strip("._-")
    return stem[:80] or default


def wrap(text: str, width: int) -> list[str]:
    """Split ``text`` into lines of ``width`` characters; 0 keeps one line."""
    if width <= 0 or len(text) <= width:
        return [text]
    return [text[i : i + width] for i in range(0, len(text), width)]


def format_fasta(records: Iterable[tuple[str, str]], width: int = 60) -> str:
    """FASTA text from (header, sequence) pairs."""
    lines: list[str] = []
    for header, sequence in records:
        lines.append(f">{header}")
        lines.extend(wrap(sequence, width))
    return "\n".join(lines) + "\n"


def summary_fields(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> JsonDict:
    """The job's one-row description: the summary, plus the item's own values when the
    job has exactly one item, so a batch of single-item jobs reads as one table."""
    fields: JsonDict = dict(summary)
    if len(rows) == 1:
        for key, value in rows[0].items():
            if key != "index":
                fields.setdefault(key, value)
    return fields
