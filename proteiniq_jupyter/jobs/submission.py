"""Quoting and submitting jobs: a request checked against its tool, priced, and
accepted with its credits held, or refused with nothing created. Inputs that name
where their content is (a saved file, a PDB entry) get it first."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from . import budgets, credits
from .access import Actor
from .core import ServiceCore, job_name
from .errors import (
    ConcurrentJobLimitExceeded,
    Conflict,
    Forbidden,
    NotFound,
    ToolUnavailable,
    ValidationError,
)
from .export import input_record
from .model import Budget, Estimate, FileRecord, Job, JobInput, JsonDict, Quote, new_id
from .ports import StoreTransaction, StructureUnavailable, ToolAvailability, ToolSpec
from .provenance import Derivation, derived
from .status import CANCELLABLE, JobStatus
from .text import check_text

#: A PDB id: four characters, a digit first (1ABC), or an extended one (pdb_00001abc).
_PDB_ID = re.compile(r"(?:[0-9][A-Za-z0-9]{3}|pdb_[0-9A-Za-z]{8})", re.IGNORECASE)


def normalise_pdb_id(text: str) -> str | None:
    """The id as the PDB writes it (1ABC, pdb_00001abc), or None if it is not one."""
    candidate = text.strip()
    if not _PDB_ID.fullmatch(candidate):
        return None
    return candidate.lower() if candidate.lower().startswith("pdb_") else candidate.upper()


def request_hash(
    tool: str, inputs: Sequence[JobInput], settings: JsonDict | None, name: str | None = None
) -> str:
    """A request's fingerprint, stored with its idempotency key: its tool, each input
    as a job's export lists it, its settings and its name, as the caller gave them (a
    form held fixed, so stored fingerprints keep matching; the name is left out when
    none is given)."""
    body: JsonDict = {
        "tool": tool,
        "inputs": [input_record(i) for i in inputs],
        "settings": settings or {},
    }
    return _digest(body, name)


def batch_request_hash(
    tool: str,
    settings: JsonDict | None,
    name: str | None = None,
    *,
    items: Sequence[Sequence[JobInput]] | None = None,
    inputs: Sequence[JobInput] | None = None,
) -> str:
    """A batch request's fingerprint, by the rule of ``request_hash``: given as
    ``items`` (each a child's inputs) or as ``inputs`` the tool splits, as the
    caller gave them."""
    body: JsonDict = {"tool": tool, "settings": settings or {}}
    if items is not None:
        body["items"] = [[input_record(i) for i in item] for item in items]
    if inputs is not None:
        body["inputs"] = [input_record(i) for i in inputs]
    return _digest(body, name)


def _digest(body: JsonDict, name: str | None) -> str:
    if name is not None:
        body["name"] = name
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def check_idempotency_key(key: str | None) -> None:
    """A job's or batch's Idempotency-Key: 1 to 255 characters of plain text."""
    if key is None:
        return
    if not 0 < len(key) <= 255:
        raise ValidationError("Idempotency-Key must be 1 to 255 characters")
    check_text(key, "Idempotency-Key")


class Submission(ServiceCore):
    def quote(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None,
        *,
        max_credits: int | None = None,
        budget: str | None = None,
        notebook: str | None = None,
    ) -> Quote:
        """What a run would cost and whether it could start now, with the cap it
        carries and the budget it would count against. Problems are listed as
        blocking errors rather than raised, so a form can show them all."""
        workspace_id, user_id, _ = self._member(actor)
        blocking: list[JsonDict] = []
        estimate = Estimate()
        billed_by_use = False
        budget_use = None
        try:
            limits = Limits(max_credits, budget, notebook).checked()
        except ValidationError as exc:
            blocking.extend({"code": exc.code, **error} for error in exc.errors)
            limits = Limits()
        max_credits = limits.max_credits
        try:
            inputs = self._resolve_sources(actor, inputs)
            tool, _, _, estimate = self._prepare(tool_id, inputs, settings)
            billed_by_use = bool(tool.billed_by_use)
            self._check_runnable(tool_id)
        except ValidationError as exc:
            blocking.extend({"code": exc.code, **error} for error in exc.errors)
        except ToolUnavailable as exc:
            blocking.append({"code": exc.code, "field": "tool", "message": exc.message})
        over_cap = credits.cap_problem(tool_id, estimate.credits, max_credits)
        if over_cap is not None:
            blocking.append({"code": "credit_cap_exceeded", "message": over_cap})
        held = credits.hold_for(estimate.credits, max_credits, billed_by_use) or estimate.credits
        with self.store.read() as tx:
            available = credits.available(tx, workspace_id)
            active = tx.count_jobs(workspace_id, sorted(CANCELLABLE))
            try:
                chosen = budgets.budget_for(
                    tx,
                    workspace_id,
                    user_id,
                    budget=limits.budget,
                    notebook=limits.notebook,
                    create_at=None,
                )
            except ValidationError as exc:
                blocking.extend({"code": exc.code, **error} for error in exc.errors)
                chosen = None
            if chosen is not None:
                budget_use = budgets.uses(tx, [chosen])[0]
        if budget_use is not None:
            problem = budgets.over_budget(budget_use.budget, budget_use.used, held)
            if problem is not None:
                blocking.append({"code": "budget_exceeded", "message": problem})
        if held > available:
            blocking.append(
                {
                    "code": "insufficient_credits",
                    "message": f"needs {held} credits, {available} available",
                }
            )
        limit = self.config.max_concurrent_jobs
        if limit is not None and active >= limit:
            blocking.append(
                {
                    "code": "concurrent_job_limit_exceeded",
                    "message": f"{active} jobs are running; the limit is {limit}",
                }
            )
        return Quote(
            tool=tool_id,
            estimate=estimate,
            available_credits=available,
            blocking_errors=tuple(blocking),
            active_concurrent_jobs=active,
            max_concurrent_jobs=limit,
            max_credits=max_credits,
            budget=budget_use,
            billed_by_use=billed_by_use,
        )

    def submit(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None = None,
        *,
        name: str | None = None,
        idempotency_key: str | None = None,
        max_credits: int | None = None,
        budget: str | None = None,
        notebook: str | None = None,
    ) -> Job:
        """Accept a job: validated, priced and its credits held, or refused with
        nothing created. A repeated idempotency key returns the first job when the
        tool, inputs, settings and name are the same, and is a conflict otherwise.
        A job quoted above ``max_credits`` is refused; one billed by use holds its
        cap and ends there. Under a budget (named, or the ``notebook``'s) its hold
        must fit what the budget has left."""
        return self._submit(
            actor,
            tool_id,
            inputs,
            settings,
            name=name,
            idempotency_key=idempotency_key,
            limits=Limits(max_credits, budget, notebook),
        )

    def _submit(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None,
        *,
        name: str | None,
        idempotency_key: str | None = None,
        origin_job_id: str | None = None,
        derivation: Derivation = Derivation.DUPLICATE,
        limits: Limits | None = None,
    ) -> Job:
        """``submit``, for a new job or one made from another (``origin_job_id``,
        by ``derivation``, which its provenance keeps)."""
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot run jobs")
        limits = (limits or Limits()).checked()
        inputs = self._resolve_sources(actor, inputs)
        check_idempotency_key(idempotency_key)
        fingerprint = request_hash(tool_id, inputs, settings, name) if idempotency_key else None
        if idempotency_key:
            with self.store.read() as tx:
                earlier = tx.find_idempotent(workspace_id, idempotency_key)
            if earlier is not None:
                return _same_request(earlier, fingerprint)
        tool, parsed, cost, _ = self._prepare(tool_id, inputs, settings)
        credits.refuse_over_cap(tool_id, cost, limits.max_credits)
        self._check_runnable(tool_id)
        now = self.clock()
        job = Job(
            id=new_id("job"),
            workspace_id=workspace_id,
            submitter_id=user_id,
            tool=tool_id,
            name=job_name(name, tool.name, now),
            status=JobStatus.PENDING,
            inputs=tool.with_slot_kinds(inputs),
            settings=parsed,
            created_at=now,
            updated_at=now,
            estimated_credits=cost,
            origin_job_id=origin_job_id,
            provenance=derived(origin_job_id, derivation) if origin_job_id else None,
            max_credits=limits.max_credits,
            reserved_credits=credits.hold_for(cost, limits.max_credits, tool.billed_by_use),
        )
        with self._write() as (tx, outbox):
            tx.lock_workspace(workspace_id)
            if idempotency_key:
                earlier = tx.find_idempotent(workspace_id, idempotency_key)
                if earlier is not None:
                    return _same_request(earlier, fingerprint)
            self._check_concurrency(tx, workspace_id)
            chosen = limits.budget_in(tx, workspace_id, user_id, now)
            if chosen is not None:
                budgets.hold_in_budget(tx, chosen, job.held_credits)
                job = replace(job, budget_id=chosen.id)
            credits.reserve(tx, job, now)
            self._insert_created(tx, outbox, job, idempotency_key, fingerprint)
            self._dispatch_after_commit(outbox, job.id)
        return job

    def _check_concurrency(self, tx: StoreTransaction, workspace_id: str) -> None:
        limit = self.config.max_concurrent_jobs
        if limit is None:
            return
        active = tx.count_jobs(workspace_id, sorted(CANCELLABLE))
        if active >= limit:
            raise ConcurrentJobLimitExceeded(
                f"{active} jobs are already running or waiting; the workspace limit is {limit}",
                details={"active_concurrent_jobs": active, "max_concurrent_jobs": limit},
            )

    def _prepare(
        self, tool_id: str, inputs: Sequence[JobInput], settings: JsonDict | None
    ) -> tuple[Any, JsonDict, int, Any]:
        """Validate a request against its tool: the parsed settings (defaults filled
        in), and the estimate. Raises ValidationError; touches nothing."""
        tool = self._requested_tool(tool_id)
        parsed = tool.parse_settings(settings)
        tool.validate(inputs, parsed)
        estimate = tool.estimate(inputs, parsed)
        return tool, dict(parsed.model_dump(mode="json")), estimate.credits, estimate

    def tool_availability(self, tool_id: str) -> ToolAvailability:
        """Whether the executor's workers can run the tool, and why not."""
        if self.executor is None:
            return ToolAvailability()
        return self.executor.availability(tool_id)

    def _check_runnable(self, tool_id: str) -> None:
        """Refuse a tool that no worker of this installation could ever run, naming
        what to install; where a capable worker may join later, the job is accepted
        and waits."""
        availability = self.tool_availability(tool_id)
        if availability.blocking and availability.reason is not None:
            raise ToolUnavailable(availability.reason, details={"tool": tool_id})

    def _requested_tool(self, tool_id: str) -> ToolSpec:
        """The tool a request names; an unknown one is an input error."""
        try:
            return self.tools.get(tool_id)
        except NotFound as exc:
            raise ValidationError(
                exc.message, errors=[{"field": "tool", "message": exc.message}]
            ) from None

    # -- sources --------------------------------------------------------------

    def _resolve_sources(self, actor: Actor, inputs: Sequence[JobInput]) -> tuple[JobInput, ...]:
        """Inputs that name where their content is, rather than carrying it, get it:
        a saved file's text (``source.file_id``), or a PDB entry fetched now
        (``source`` of type ``pdb``), so that the job holds the structure itself."""
        saved = self._saved_files(actor, inputs)
        resolved = []
        for index, item in enumerate(inputs):
            if not item.content and item.file_id:
                item = _from_file(index, item, saved)
            elif not item.content and item.pdb_id is not None:
                item = self._from_pdb(index, item)
            resolved.append(item)
        return tuple(resolved)

    def _saved_files(
        self, actor: Actor, inputs: Sequence[JobInput]
    ) -> dict[str, tuple[Path, FileRecord] | None]:
        """The saved files that inputs take their content from, looked up in one
        read (None for a file the actor may not read, or whose content is gone)."""
        file_ids = [item.file_id for item in inputs if not item.content and item.file_id]
        found: dict[str, tuple[Path, FileRecord] | None] = {}
        if not file_ids:
            return found
        with self.store.read() as tx:
            for file_id in file_ids:
                try:
                    found[file_id] = self._readable_file(tx, actor, file_id)
                except NotFound:
                    found[file_id] = None
        return found

    def _from_pdb(self, index: int, item: JobInput) -> JobInput:
        assert item.pdb_id is not None
        field = f"input.inputs[{index}].source.id"
        pdb_id = normalise_pdb_id(item.pdb_id)
        if pdb_id is None:
            raise _source_error(
                index,
                field,
                f"{item.pdb_id!r} is not a PDB id: four characters, a digit first "
                "(1ABC), or an extended id (pdb_00001abc)",
            )
        if item.format and item.format.lower() != "pdb":
            raise _source_error(
                index,
                f"input.inputs[{index}].format",
                f"PDB entry {pdb_id} is fetched as PDB text, but the input's format is "
                f"{item.format!r}: set it to pdb, or leave it out",
            )
        if self.structures is None:
            raise _source_error(
                index,
                field,
                f"fetching PDB entry {pdb_id} is switched off here (PIQ_PDB_URL is "
                "empty): send the structure's text or a saved file instead",
            )
        try:
            content = self.structures.fetch(pdb_id)
        except StructureUnavailable as exc:
            raise _source_error(index, field, str(exc)) from None
        return replace(
            item, content=content, format="pdb", label=item.label or pdb_id, pdb_id=pdb_id
        )


@dataclass(frozen=True)
class Limits:
    """What bounds a submission's spending: its own cap, and the budget it counts
    against (named, or its notebook's)."""

    max_credits: int | None = None
    budget: str | None = None
    notebook: str | None = None

    def checked(self) -> Limits:
        return Limits(
            credits.check_cap(self.max_credits),
            None if self.budget is None else budgets.checked_budget_name(self.budget, "budget"),
            None if not self.notebook else budgets.checked_budget_name(self.notebook, "notebook"),
        )

    def as_arguments(self) -> dict[str, Any]:
        """As the keyword arguments of ``submit`` and ``quote``."""
        return {"max_credits": self.max_credits, "budget": self.budget, "notebook": self.notebook}

    def budget_in(
        self, tx: StoreTransaction, workspace_id: str, user_id: str, now: datetime
    ) -> Budget | None:
        """The budget to hold under (call under the workspace lock)."""
        return budgets.budget_for(
            tx, workspace_id, user_id, budget=self.budget, notebook=self.notebook, create_at=now
        )


def _from_file(
    index: int, item: JobInput, saved: dict[str, tuple[Path, FileRecord] | None]
) -> JobInput:
    assert item.file_id is not None
    field = f"input.inputs[{index}].source.file_id"
    found = saved.get(item.file_id)
    if found is None:
        raise _source_error(index, field, f"no file {item.file_id}")
    path, record = found
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _source_error(index, field, f"file {item.file_id} is not UTF-8 text") from None
    return replace(
        item,
        content=content,
        format=item.format or record.format,
        label=item.label or record.name,
    )


def _source_error(index: int, field: str, message: str) -> ValidationError:
    return ValidationError(
        f"input {index + 1}: {message}", errors=[{"field": field, "message": message}]
    )


def _same_request(earlier: tuple[Job, str | None], fingerprint: str | None) -> Job:
    job, stored = earlier
    if stored is not None and fingerprint is not None and stored != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request",
            details={"job_id": job.id},
        )
    return job
