"""The tool contract: what every tool declares and the one method it implements.

A tool is a class. The engine reads its declaration (slots, settings model, limits,
GPU need, time limit, credit model) to validate input before a job exists, to quote
it, and to describe it to forms and the API; ``run`` does the work in the job's own
directory and reports progress through the context.
"""

from __future__ import annotations

import difflib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import pydantic

from ..jobs.errors import ValidationError
from ..jobs.model import Estimate, JobInput, JsonDict, ResultFile, ToolResult
from ..jobs.provenance import ModelWeights
from .estimate import EstimatedPhase, EstimateSink, PhaseEstimate
from .programs import Program
from .warm_host import HostScope


@dataclass(frozen=True)
class InputSlot:
    """One kind of input a tool takes (``input.slots[]`` in the catalogue)."""

    id: str
    kind: str  # protein, structure, molecule, ligand, text ...
    formats: tuple[str, ...]
    label: str
    description: str = ""
    required: bool = True
    max_items: int = 1


@dataclass(frozen=True)
class OutputField:
    """A result field the tool promises (a CSV column)."""

    name: str
    description: str
    unit: str | None = None


class NoSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


@dataclass
class RunContext:
    """What a running tool may use: its working directory and a progress callback."""

    workdir: Path
    report: Callable[[float, str | None], None] = field(default=lambda _f, _m: None)
    #: Shared by every job of this installation; None keeps caches in the job folder.
    cache_root: Path | None = None
    #: The threads this job may use (its share of its machine's CPUs, already set
    #: for OpenMP, BLAS and torch); None outside a job process of its own.
    threads: int | None = None
    #: Where estimated progress goes (fraction, message, seconds left); None sends it
    #: to ``report`` without the estimate's marks.
    report_estimate: EstimateSink | None = None
    #: How long the engine expects the whole run to take, from past runs of the
    #: tool; None when there were none.
    expected_s: float | None = None
    #: Where the weights the tool loaded are recorded (the job's provenance).
    report_models: Callable[[list[ModelWeights]], None] = field(default=lambda _m: None)
    started: float = field(default_factory=time.monotonic)
    #: Where the credits a run billed by use has used go (in all, so far).
    report_use: Callable[[int], None] = field(default=lambda _c: None)
    #: Where a warm host (``warm_host``) may serve this job's native work: its
    #: worker's fork server; None outside a job process, where work runs apart.
    host_scope: HostScope | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, fraction: float, message: str | None = None) -> None:
        with self._lock:
            self.report(min(1.0, max(0.0, fraction)), message)

    def used(self, credits: int) -> None:
        """Say how many credits the run has used so far, in all (tools billed by
        use). A run that goes past its job's cap is stopped there."""
        with self._lock:
            self.report_use(max(0, int(credits)))

    def _estimate(self, fraction: float, message: str | None, eta_s: float | None) -> None:
        with self._lock:
            fraction = min(1.0, max(0.0, fraction))
            if self.report_estimate is None:
                self.report(fraction, message)
            else:
                self.report_estimate(fraction, message, eta_s)

    def estimated_phase(
        self, low: float, high: float, message: str, *, typical_s: float | None = None
    ) -> EstimatedPhase:
        """A block that moves the job from ``low`` to ``high`` with no word from
        the library on how far it is: the engine reports an estimate while it runs,
        from the run time the engine expects (``expected_s``), or else the tool's
        own ``typical_s`` for the phase."""
        expected = typical_s
        if self.expected_s is not None and low < 1.0:
            left = self.expected_s - (time.monotonic() - self.started)
            if left > 0:
                expected = left * (high - low) / (1.0 - low)
        tail = expected * (1.0 - high) / (high - low) if expected and high > low else 0.0
        return EstimatedPhase(PhaseEstimate(low, high, expected, tail), message, self._estimate)

    def loaded_weights(self, *models: ModelWeights) -> None:
        """Record model weights the run loaded in the job's provenance."""
        if models:
            with self._lock:
                self.report_models(list(models))

    def cache(self, name: str) -> Path:
        """A folder for what outlives one job and is shared by jobs (a prepared
        receptor, keyed by content). Entries must be written atomically (write a
        temporary file, then rename), since two jobs may fill the same one."""
        path = (self.cache_root or self.workdir / ".cache") / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_file(self, name: str, content: str | bytes, format: str) -> ResultFile:
        """Write one output file into the job's directory and return its manifest entry."""
        if "/" in name or name.startswith("."):
            raise ValueError(f"output file name {name!r} must be a plain file name")
        path = self.workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return ResultFile(name=name, format=format, size=path.stat().st_size)


def unknown_name(what: str, name: str, names: Sequence[str], tool_id: str) -> str:
    """ "no setting 'exhaustivness'; did you mean 'exhaustiveness'? ..." with every
    name the tool knows."""
    text = f"{tool_id} has no {what} {name!r}"
    nearest = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if nearest:
        text += f"; did you mean {nearest[0]!r}?"
    if names:
        text += f" Its {what}s: {', '.join(sorted(names))}"
    else:
        text += f"; it takes no {what}s"
    return text


def input_error(
    message: str,
    *,
    index: int | None = None,
    slot: str | None = None,
    **place: Any,
) -> dict[str, Any]:
    """One entry of a ValidationError's ``errors`` list, naming where the problem is."""
    error: dict[str, Any] = {"message": message}
    if index is not None:
        error["field"] = f"input.inputs[{index}].content"
    if slot is not None:
        error["slot"] = slot
    error.update({k: v for k, v in place.items() if v is not None})
    return error


class Tool(ABC):
    """Base class of every tool. Subclasses set the class attributes and ``run``."""

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    category: ClassVar[str]
    subcategory: ClassVar[str | None] = None
    tags: ClassVar[tuple[str, ...]] = ()
    version: ClassVar[str] = "1"
    beta: ClassVar[bool] = False
    #: Needs a GPU: its jobs wait for a worker that has one.
    gpu: ClassVar[bool] = False
    #: Runs anywhere, and on a GPU when its worker has one (so never waits for one).
    prefers_gpu: ClassVar[bool] = False
    #: Heavy libraries its jobs import; with the tool in ``PIQ_PRELOAD_TOOLS`` each
    #: worker imports them (and the tool's module) once, then calls ``warm_up``,
    #: before forking its jobs.
    preload: ClassVar[tuple[str, ...]] = ()
    #: What its jobs run on, as their provenance lists it with the versions
    #: installed where each ran: Python distributions, and the external programs it
    #: starts. Weights it loads, it records in ``run`` (``RunContext.loaded_weights``).
    libraries: ClassVar[tuple[str, ...]] = ()
    programs: ClassVar[tuple[Program, ...]] = ()
    #: Whether its job processes keep the transparent huge pages the fork server
    #: asks for. They spare a tool that fills large arrays most of its page faults,
    #: but each costs the kernel a 2 MB page to clear (and, where memory is
    #: fragmented, to compact): a tool whose work is short against its allocations
    #: turns them off.
    huge_pages: ClassVar[bool] = True
    time_limit_s: ClassVar[float] = 600.0
    slots: ClassVar[tuple[InputSlot, ...]]
    outputs: ClassVar[tuple[OutputField, ...]] = ()
    settings_model: ClassVar[type[pydantic.BaseModel]] = NoSettings
    limits: ClassVar[JsonDict] = {}
    #: A short description of how cost is computed; ``is_free`` is derived.
    credit_description: ClassVar[str] = "free"
    #: The numbers behind the description (credits per residue, per ligand ...), for
    #: forms that show a price before any input is given. ``estimate`` applies them.
    credit_rates: ClassVar[JsonDict] = {}
    #: Whether the tool is charged by what it uses as it runs (reported with
    #: ``RunContext.used``): its estimate is then the least it costs, a job of it
    #: holds its cap (``max_credits``), and it stops there as BUDGET_EXCEEDED.
    billed_by_use: ClassVar[bool] = False

    # -- declared behaviour -------------------------------------------------

    def parse_settings(self, raw: JsonDict | None) -> pydantic.BaseModel:
        """Settings validated against the tool's model; a bad field names itself."""
        try:
            return self.settings_model.model_validate(raw or {})
        except pydantic.ValidationError as exc:
            names = list(self.settings_model.model_fields)
            errors = []
            for err in exc.errors():
                place = ".".join(str(p) for p in err["loc"])
                reason = err["msg"]
                if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
                    reason = unknown_name("setting", str(err["loc"][0]), names, self.id)
                errors.append(
                    {"field": f"settings.{place}", "message": f"settings.{place}: {reason}"}
                )
            raise ValidationError("; ".join(e["message"] for e in errors), errors=errors) from None

    def validate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        """Check the inputs against the slots, then the tool's own content checks.

        Raises ValidationError listing every problem with its place; nothing has been
        created or charged when this raises.
        """
        errors: list[dict[str, Any]] = []
        known = {slot.id: slot for slot in self.slots}
        counts: dict[str, int] = {}
        for index, item in enumerate(inputs):
            slot = known.get(item.slot_id)
            if slot is None:
                errors.append(
                    input_error(
                        f"input {index + 1}: "
                        + unknown_name("slot", item.slot_id, list(known), self.id),
                        index=index,
                    )
                )
                continue
            counts[slot.id] = counts.get(slot.id, 0) + 1
            if item.format and item.format not in slot.formats:
                errors.append(
                    input_error(
                        f"input {index + 1} ({slot.id}): format {item.format!r} is not "
                        f"accepted; use one of {', '.join(slot.formats)}",
                        index=index,
                        slot=slot.id,
                    )
                )
            if not item.content.strip():
                errors.append(
                    input_error(
                        f"input {index + 1} ({slot.id}): the content is empty",
                        index=index,
                        slot=slot.id,
                    )
                )
        for slot in self.slots:
            n = counts.get(slot.id, 0)
            if slot.required and n == 0:
                errors.append(
                    input_error(f"missing input for slot {slot.id!r} ({slot.label})", slot=slot.id)
                )
            if n > slot.max_items:
                errors.append(
                    input_error(
                        f"slot {slot.id!r} takes at most {slot.max_items} item(s), got {n}",
                        slot=slot.id,
                    )
                )
        if errors:
            raise ValidationError("; ".join(e["message"] for e in errors), errors=errors)
        self.check_inputs(inputs, settings)

    def check_inputs(  # noqa: B027 - optional hook, most tools override it
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel
    ) -> None:
        """Tool-specific content checks (parse the sequence, the SMILES, the file).
        Raise ValidationError naming the record, line and character at fault."""

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        """The cost of a run. Free unless a tool says otherwise."""
        return Estimate()

    def missing_requirements(self) -> str | None:
        """Why this installation cannot run the tool (its program or model weights are
        not there), naming what to install or set; None when it can. The runner asks
        before the job starts, so such a job fails at once and costs nothing."""
        return None

    def with_slot_kinds(self, inputs: Sequence[JobInput]) -> tuple[JobInput, ...]:
        """The inputs as a job keeps them: one sent without a kind has its slot's."""
        kinds = {slot.id: slot.kind for slot in self.slots}
        return tuple(
            replace(item, kind=kinds[item.slot_id])
            if not item.kind and item.slot_id in kinds
            else item
            for item in inputs
        )

    def batch_items(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel
    ) -> list[list[JobInput]]:
        """One batch input split into the inputs of each child job (each ligand with
        the receptor, each line a complex). A tool that takes no batch input says so."""
        message = f"{self.id} does not take a batch input; send one item per job instead"
        raise ValidationError(message, errors=[{"field": "input", "message": message}])

    @classmethod
    def preload_modules(cls) -> tuple[str, ...]:
        """The tool as ``module:Class`` (imported, then warmed up) and its libraries."""
        return (f"{cls.__module__}:{cls.__qualname__}", *cls.preload)

    @classmethod  # noqa: B027 - optional hook, most tools need none
    def warm_up(cls) -> None:
        """Do the first-use set-up that importing the tool's libraries leaves undone
        (templates, caches), in the worker's fork server when the tool is preloaded,
        so that every job forks with it done. It must not start threads or touch a
        GPU: the job processes are forked from the process it runs in."""

    @classmethod
    def takes_batch_input(cls) -> bool:
        return cls.batch_items is not Tool.batch_items

    @abstractmethod
    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        """Do the work. Write files with ``context.write_file``; report progress.
        The inputs and settings are those ``validate`` accepted when the job was
        submitted, so a tool need not check them again."""

    # -- helpers for subclasses --------------------------------------------

    @staticmethod
    def slot_items(inputs: Sequence[JobInput], slot_id: str) -> list[tuple[int, JobInput]]:
        return [(i, item) for i, item in enumerate(inputs) if item.slot_id == slot_id]

    # -- catalogue ----------------------------------------------------------

    @classmethod
    def is_free(cls) -> bool:
        return cls.credit_description == "free"
