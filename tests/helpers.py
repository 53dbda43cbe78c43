"""Small tools with known behaviour, for testing the engine's rules. They are real
tools under the same contract (validated, priced, run), whose outcome the test
chooses: the engine cannot tell them from any other tool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import pydantic

from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Estimate, EstimateLine, JobInput, ToolResult
from proteiniq_jupyter.tools.base import InputSlot, OutputField, RunContext, Tool, input_error


class EchoSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    repeat: int = pydantic.Field(1, ge=1, le=10)
    outcome: Literal["ok", "error"] = "ok"


class Echo(Tool):
    """Priced per character: 10 credits per started 10 characters, times ``repeat``."""

    id = "echo"
    name = "Echo"
    description = "Repeats its text; costs credits by length."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    outputs = (
        OutputField("length", "characters in the text"),
        OutputField("echo", "the text, repeated"),
    )
    settings_model = EchoSettings
    credit_description = "10 credits per started 10 characters, per repeat"

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        for index, item in self.slot_items(inputs, "text"):
            position = item.content.find("!")
            if position >= 0:
                raise ValidationError(
                    f"text: '!' is not allowed (character {position + 1})",
                    errors=[input_error("'!' is not allowed", index=index, column=position + 1)],
                )

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        assert isinstance(settings, EchoSettings)
        length = sum(len(i.content) for i in inputs)
        blocks = -(-length // 10)
        return Estimate(
            (
                EstimateLine(
                    "characters (per 10)",
                    blocks * settings.repeat,
                    10,
                    blocks * 10 * settings.repeat,
                ),
            )
        )

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        assert isinstance(settings, EchoSettings)
        if settings.outcome == "error":
            raise RuntimeError("the echo chamber collapsed")
        text = inputs[0].content
        context.progress(0.5, "echoing")
        echoed = " ".join([text] * settings.repeat)
        out = context.write_file("echo.txt", echoed, "text")
        rows = [{"index": i + 1, "word": w} for i, w in enumerate(text.split())]
        return ToolResult(fields={"length": len(text), "echo": echoed}, rows=rows, files=[out])


TEST_TOOLS: tuple[type[Tool], ...] = (Echo,)
