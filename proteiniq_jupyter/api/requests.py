"""The request bodies: submissions, quotes, batches, renames, sharing and
duplicates, each parsed by its model into what the service takes.

A body the model refuses becomes one ``ValidationError`` here (see ``_refusal``):
the first refused field, in the order the request lists them, is named, with the
message that field's problem has always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

import pydantic
from pydantic import Field, ValidationInfo, WithJsonSchema, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from ..jobs.errors import ValidationError
from ..jobs.model import JobInput, Visibility
from ..jobs.submission import Limits
from ..jobs.text import text_problem
from .base import MISSING, JsonObject, Request, Text

#: Where an input's content may come from, and the field each kind must name.
SOURCE_FIELDS: dict[str, str | None] = {"text": None, "file": "file_id", "pdb": "id"}
SourceKind = Literal["text", "file", "pdb"]
#: A job name in a request: its length is the service's rule (and message).
Name = Annotated[Text, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 300})]
Email = Annotated[Text, WithJsonSchema({"type": "string", "format": "email"})]


class InputSourceRequest(Request):
    """where the content comes from: inline text, a saved file (file_id, from POST
    files) whose text fills an empty content, or a Protein Data Bank entry (id, as
    1ABC) fetched at submit, as PDB text"""

    type: SourceKind = "text"
    file_id: object = Field(default=None, validate_default=True)
    id: object = Field(default=None, validate_default=True)

    @field_validator("type", mode="plain", json_schema_input_type=SourceKind)
    @classmethod
    def _known_kind(cls, value: object) -> str:
        if isinstance(value, str) and value in SOURCE_FIELDS:
            return value
        raise PydanticCustomError(
            "source_kind",
            "must be one of {kinds}, not {value}",
            {"kinds": ", ".join(SOURCE_FIELDS), "value": repr(value)},
        )

    @field_validator("file_id", "id", mode="plain", json_schema_input_type=str)
    @classmethod
    def _named_by_kind(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("type")
        if kind and SOURCE_FIELDS[kind] == info.field_name and not isinstance(value, str):
            raise PydanticCustomError(
                "source_field", "must be a string for a {kind} source", {"kind": kind}
            )
        return value


class JobInputItemRequest(Request):
    slotId: Text = Field(description="one of the tool's input.slots[].id")
    content: Text
    id: Text | None = Field(default=None, description="defaults to the slot id")
    kind: Text | None = None
    format: Text | None = Field(default=None, description="one of the slot's formats")
    label: Text | None = None
    source: InputSourceRequest | None = None

    def to_domain(self) -> JobInput:
        source = self.source
        file_id = source.file_id if source else None
        return JobInput(
            id=self.id or self.slotId,
            slot_id=self.slotId,
            kind=self.kind or "",
            format=self.format or "",
            content=self.content,
            label=self.label,
            file_id=str(file_id) if file_id else None,
            pdb_id=str(source.id or "") if source and source.type == "pdb" else None,
        )


class JobInputRequest(Request):
    inputs: list[JobInputItemRequest]

    def to_domain(self) -> list[JobInput]:
        return [item.to_domain() for item in self.inputs]


class Body(Request):
    """A request body, parsed by ``parse``: its fields are checked in the order they
    are declared, and the first refused one is named."""

    @classmethod
    def parse(cls, body: JsonObject) -> Self:
        try:
            return cls.model_validate(body)
        except pydantic.ValidationError as exc:
            raise _refusal(exc.errors(), tuple(cls.model_fields)) from None


ToolId = Annotated[Text, Field(min_length=1)]


class Spending(Body):
    """What bounds a submission's spending, the same in every body that submits or
    quotes: its own cap, and the budget it counts against. Checked by the service,
    which names the problem."""

    max_credits: object = Field(
        default=None,
        description="the most the job (each child, for a batch) may cost: refused when its "
        "quote is more; a tool billed by use holds it and stops there as BUDGET_EXCEEDED",
    )
    budget: object = Field(
        default=None, description="the open budget (id or name) the submission counts against"
    )
    notebook: object = Field(
        default=None,
        description="the path of the notebook submitting: its budget, if it has one "
        "(or the workspace's default for notebooks)",
    )

    @field_validator("max_credits", mode="plain", json_schema_input_type=int | None)
    @classmethod
    def _cap_checked_by_the_service(cls, value: object) -> object:
        return value

    @field_validator("budget", "notebook", mode="plain", json_schema_input_type=str | None)
    @classmethod
    def _names_checked_by_the_service(cls, value: object) -> object:
        return value

    def limits(self) -> Limits:
        return Limits(
            max_credits=self.max_credits,  # type: ignore[arg-type]  # checked by Limits
            budget=self.budget,  # type: ignore[arg-type]
            notebook=self.notebook,  # type: ignore[arg-type]
        )


class QuoteRequest(Spending):
    tool: ToolId
    input: JobInputRequest
    settings: JsonObject | None = None


class JobCreate(Spending):
    tool: ToolId
    input: JobInputRequest
    settings: JsonObject | None = Field(default=None, description="the tool's settings model")
    name: Name | None = None


class JobDuplicate(Body):
    settings: JsonObject | None = Field(
        default=None,
        description="merged over the job's settings; a null takes a setting back to "
        "the tool's default",
    )
    name: Name | None = None


class JobUpdate(Body):
    """The name is all of a job that can change."""

    model_config = pydantic.ConfigDict(extra="forbid")

    name: Name

    @classmethod
    def parse(cls, body: JsonObject) -> Self:
        try:
            return cls.model_validate(body)
        except pydantic.ValidationError as exc:
            errors = exc.errors()
        others = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
        if others or errors[0]["type"] == "missing":
            raise ValidationError(
                "only the name of a job can be changed",
                errors=[{"field": f, "message": "cannot be changed"} for f in others]
                or [{"field": "name", "message": "required"}],
            )
        raise _refusal(errors, ("name",))


class ShareUpdate(Body):
    model_config = pydantic.ConfigDict(json_schema_extra={"required": ["visibility"]})

    visibility: Visibility | None = None
    invite: list[Email] = Field(
        default_factory=list, description="emails added to the invited list"
    )
    invited_emails: object = Field(
        default=None, description="the same as invite (read when invite is absent)", exclude=True
    )
    uninvite: list[Text] = Field(
        default_factory=list, description="emails removed from the invited list"
    )

    @field_validator("visibility", mode="plain", json_schema_input_type=Visibility)
    @classmethod
    def _checked_by_the_service(cls, value: Any) -> Any:
        return value

    @field_validator("invited_emails", mode="plain", json_schema_input_type=list[Email])
    @classmethod
    def _read_as_invite(cls, value: Any) -> Any:
        return value

    @model_validator(mode="before")
    @classmethod
    def _invited_emails(cls, data: Any) -> Any:
        if isinstance(data, dict) and "invite" not in data and "invited_emails" in data:
            return {**data, "invite": data["invited_emails"]}
        return data


class BatchItem(Request):
    input: JobInputRequest


class BatchCreate(Spending):
    """One job per item of ``items``, or one ``input`` that the tool splits."""

    tool: ToolId
    name: Name | None = None
    settings: JsonObject | None = None
    items: Annotated[list[BatchItem], Field(min_length=1)] | MISSING = Field(
        default=MISSING, description="one job per item, each with its own input.inputs"
    )
    input: JobInputRequest | MISSING = Field(
        default=MISSING,
        description="instead of items: one input the tool splits into its children (each "
        "ligand with the receptor, each line a complex); only for tools whose "
        "processing.batch_input is true",
    )

    def children(self) -> list[list[JobInput]]:
        """The inputs of each child job (none when the tool splits ``input``)."""
        items = self.items if isinstance(self.items, list) else []
        return [item.input.to_domain() for item in items]

    @model_validator(mode="before")
    @classmethod
    def _items_or_input(cls, data: Any) -> Any:
        """Items win over an input; with neither, the missing items are named."""
        if not isinstance(data, dict):
            return data
        if "items" in data:
            return {k: v for k, v in data.items() if k != "input"}
        return data if "input" in data else {**data, "items": None}

    @classmethod
    def parse(cls, body: JsonObject) -> Self:
        items_first = "items" in body or "input" not in body
        try:
            return cls.model_validate(body)
        except pydantic.ValidationError as exc:
            order = ("items", "tool", "settings", "name") if items_first else _SUBMISSION
            raise _refusal(exc.errors(), order) from None


_SUBMISSION = ("tool", "input", "settings", "name")

# -- what no body may hold --------------------------------------------------------------

#: How deep a body's objects and lists may nest. The deepest request of the API
#: (a batch item's input source) is six levels; tool settings are flat.
MAX_DEPTH = 32
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def too_deep(place: str = "body") -> ValidationError:
    return ValidationError(f"{place} is {TOO_DEEP}", errors=[{"field": place, "message": TOO_DEEP}])


def check_body(body: Any) -> None:
    """Refuse, wherever it is in a parsed JSON body, what no field of a request may
    hold: nesting deeper than ``MAX_DEPTH``, and text that cannot be stored (see
    ``jobs.text``), as a key or a value. The first problem is named by its place
    (``settings.tags[2]``). One pass without recursion, so any depth is answered."""
    pending: list[tuple[Any, str, int]] = [(body, "", 0)]
    while pending:
        value, place, depth = pending.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                where = place or "body"
                raise ValidationError(
                    f"{where} {problem}", errors=[{"field": where, "message": problem}]
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise too_deep(place or "body")
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                pending.append((key, place or "body", depth))  # a key is checked as text
                pending.append((item, f"{place}.{key}".lstrip("."), depth + 1))
        else:
            for index, item in reversed(list(enumerate(value))):
                pending.append((item, f"{place}[{index}]", depth + 1))


# -- refusals ---------------------------------------------------------------------------

#: The message of a refused field, and the one problem listed for it.
_FIELD_REFUSALS = {
    "tool": ("tool is required", "a tool id is required"),
    "settings": ("settings must be an object", "must be an object"),
    "name": ("name must be a string", "must be a string"),
    "invite": ("invite must be a list of emails", "must be a list of emails"),
    "uninvite": ("uninvite must be a list of emails", "must be a list of emails"),
    "items": (
        "items must be a non-empty list, each with its own input.inputs (or give one "
        "input for the tool to split)",
        "must be a non-empty list",
    ),
}
#: What an input item's field says for each kind of problem.
_PROBLEMS = {
    "missing": "must be a string",
    "string_type": "must be a string",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
}


def _refusal(errors: Sequence[ErrorDetails], checked: Sequence[str]) -> ValidationError:
    """The ``ValidationError`` for what a model refused in a body: the first field of
    ``checked`` with a problem, worded as that field's problems are."""
    field = next(f for f in (*checked, *(str(e["loc"][0]) for e in errors)) if _on(errors, f))
    mine = _on(errors, field)
    if field == "input":
        return _joined(_input_problems(mine, 1))
    if field == "items":
        return _items_refusal(mine)
    if field not in _FIELD_REFUSALS:
        problem = "is required" if mine[0]["type"] == "missing" else mine[0]["msg"]
        return ValidationError(f"{field} {problem}", errors=[{"field": field, "message": problem}])
    message, problem = _FIELD_REFUSALS[field]
    return ValidationError(message, errors=[{"field": field, "message": problem}])


def _on(errors: Sequence[ErrorDetails], field: str) -> list[ErrorDetails]:
    return [e for e in errors if e["loc"] and e["loc"][0] == field]


def _place(loc: Sequence[int | str]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]


def _input_problems(errors: Sequence[ErrorDetails], depth: int) -> list[dict[str, str]]:
    """The problems of ``input.inputs``, whose ``input`` is at ``depth`` in each
    error's place: the list as a whole, or each item's fields."""
    whole = [e for e in errors if len(e["loc"]) <= depth + 1]
    if whole:
        place = _place(whole[0]["loc"][: depth - 1])
        return [{"field": f"{place}.input.inputs".lstrip("."), "message": "must be a list"}]
    return [
        {
            "field": _place(e["loc"]),
            "message": e["msg"] if e["type"].startswith("source_") else _PROBLEMS[e["type"]],
        }
        for e in errors
    ]


def _joined(problems: list[dict[str, str]]) -> ValidationError:
    if len(problems) == 1 and problems[0]["field"] == "input.inputs":
        return ValidationError("input.inputs must be a list of input items", errors=problems)
    return ValidationError(
        "; ".join(f"{p['field']} {p['message']}" for p in problems), errors=problems
    )


def _items_refusal(errors: Sequence[ErrorDetails]) -> ValidationError:
    if any(len(e["loc"]) == 1 for e in errors):
        message, problem = _FIELD_REFUSALS["items"]
        return ValidationError(message, errors=[{"field": "items", "message": problem}])
    index = min(int(e["loc"][1]) for e in errors)
    mine = [e for e in errors if e["loc"][1] == index]
    if len(mine[0]["loc"]) == 2:
        return ValidationError(
            f"items[{index}] must be an object",
            errors=[{"field": f"items[{index}]", "message": "must be an object"}],
        )
    return _joined(_input_problems(mine, 3))
