"""The tool catalogue: a tool's summary (the list) and its detail (one tool)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Literal

from pydantic import Field

from ..jobs.ports import ToolAvailability
from ..tools.base import InputSlot as DeclaredSlot
from ..tools.base import OutputField as DeclaredField
from ..tools.base import Tool
from .base import JsonObject, ListResource, Resource


class CreditModel(Resource):
    is_free: bool
    description: str
    rates: JsonObject = Field(description="the numbers the cost is computed from")


class Availability(Resource):
    available: bool = Field(description="whether a worker of this installation can run it now")
    reason: str | None = Field(
        description="why not, naming what to install or set; null when available"
    )

    @classmethod
    def of(cls, availability: ToolAvailability) -> Availability:
        return cls.model_construct(available=availability.available, reason=availability.reason)


class ToolSummary(Resource):
    id: str
    object: Literal["tool"]
    name: str
    description: str
    category: str
    tags: list[str]
    credit_model: CreditModel
    availability: Availability

    @classmethod
    def of(
        cls, tool: type[Tool] | Tool, availability: ToolAvailability | None = None
    ) -> ToolSummary:
        """The tool as the catalogue lists it; ``availability`` as its executor
        reports it (unchecked: available)."""
        return cls.model_construct(**_summary(tool, availability))


def _summary(tool: type[Tool] | Tool, availability: ToolAvailability | None) -> JsonObject:
    return {
        "id": tool.id,
        "object": "tool",
        "name": tool.name,
        "description": tool.description,
        "category": tool.category,
        "tags": list(tool.tags),
        "credit_model": CreditModel.model_construct(
            is_free=tool.is_free(),
            description=tool.credit_description,
            rates=dict(tool.credit_rates),
        ),
        "availability": Availability.of(availability or ToolAvailability()),
    }


class ToolList(ListResource):
    data: list[ToolSummary]

    @classmethod
    def of(
        cls,
        catalogue: Iterable[type[Tool] | Tool],
        availability: Callable[[str], ToolAvailability] | None = None,
    ) -> ToolList:
        return cls.page(
            (
                ToolSummary.of(tool, availability(tool.id) if availability else None)
                for tool in catalogue
            ),
            None,
        )


class InputSlot(Resource):
    id: str
    kind: str
    formats: list[str]
    label: str
    description: str
    required: bool
    max_items: Annotated[int, Field(ge=1)]

    @classmethod
    def of(cls, slot: DeclaredSlot) -> InputSlot:
        return cls.model_construct(
            id=slot.id,
            kind=slot.kind,
            formats=list(slot.formats),
            label=slot.label,
            description=slot.description,
            required=slot.required,
            max_items=slot.max_items,
        )


class OutputField(Resource):
    name: str
    description: str
    unit: str | None

    @classmethod
    def of(cls, declared: DeclaredField) -> OutputField:
        return cls.model_construct(
            name=declared.name, description=declared.description, unit=declared.unit
        )


class Processing(Resource):
    gpu: bool
    prefers_gpu: bool
    time_limit_s: float
    batch_input: bool


class ToolInput(Resource):
    slots: list[InputSlot]
    settings: JsonObject = Field(description="the JSON schema of the tool's settings")


class ToolOutput(Resource):
    fields: list[OutputField]


class ToolDetail(ToolSummary):
    subcategory: str | None
    version: str
    beta: bool
    processing: Processing
    input: ToolInput
    output: ToolOutput
    limits: JsonObject

    @classmethod
    def of(
        cls, tool: type[Tool] | Tool, availability: ToolAvailability | None = None
    ) -> ToolDetail:
        return cls.model_construct(
            **_summary(tool, availability),
            subcategory=tool.subcategory,
            version=tool.version,
            beta=tool.beta,
            processing=Processing.model_construct(
                gpu=tool.gpu,
                prefers_gpu=tool.prefers_gpu,
                time_limit_s=tool.time_limit_s,
                batch_input=tool.takes_batch_input(),
            ),
            input=ToolInput.model_construct(
                slots=[InputSlot.of(slot) for slot in tool.slots],
                settings=tool.settings_model.model_json_schema(),
            ),
            output=ToolOutput.model_construct(fields=[OutputField.of(f) for f in tool.outputs]),
            limits=dict(tool.limits),
        )
