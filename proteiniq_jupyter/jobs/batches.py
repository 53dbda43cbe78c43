"""Batches: one job per item, run under the workspace's batch concurrency, with
the total held up front; read back as summaries of what their children add up to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from . import budgets, credits
from .access import Actor
from .core import derived_name, job_name
from .errors import (
    Conflict,
    CreditCapExceeded,
    Forbidden,
    InsufficientCredits,
    NotFound,
    ValidationError,
)
from .model import (
    Batch,
    BatchSummary,
    Estimate,
    EstimateLine,
    Job,
    JobInput,
    JsonDict,
    Quote,
    Visibility,
    new_id,
)
from .paging import check_limit, cursor_after, start_after
from .ports import StoreTransaction
from .provenance import Derivation, derived
from .status import CANCELLABLE, RETRYABLE, JobStatus
from .submission import Limits, Submission, batch_request_hash, check_idempotency_key


class Batches(Submission):
    def submit_batch(
        self,
        actor: Actor,
        tool_id: str,
        items: Sequence[Sequence[JobInput]],
        settings: JsonDict | None = None,
        *,
        name: str | None = None,
        idempotency_key: str | None = None,
        limits: Limits | None = None,
    ) -> BatchSummary:
        """One job per item, run as a batch: every item validated first (a bad one
        refuses the whole batch, naming it), the total held up front, children
        beyond the workspace's batch concurrency QUEUED until a slot opens. A
        repeated idempotency key returns the first batch when the request is the
        same, and is a conflict otherwise (as for a job)."""
        key = Keyed(idempotency_key, items=items, tool=tool_id, settings=settings, name=name)
        earlier = self._replayed_batch(actor, key)
        if earlier is not None:
            return earlier
        return self._submit_batch(actor, tool_id, items, settings, name, key, limits or Limits())

    def submit_batch_input(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None = None,
        *,
        name: str | None = None,
        idempotency_key: str | None = None,
        limits: Limits | None = None,
    ) -> BatchSummary:
        """A batch given as one input that the tool splits into its children: a
        receptor with several ligands docked one by one, a list of sequences or
        complexes, one per line."""
        key = Keyed(idempotency_key, inputs=inputs, tool=tool_id, settings=settings, name=name)
        earlier = self._replayed_batch(actor, key)
        if earlier is not None:
            return earlier
        tool = self._requested_tool(tool_id)
        resolved = self._resolve_sources(actor, inputs)
        items = tool.batch_items(resolved, tool.parse_settings(settings))
        return self._submit_batch(actor, tool_id, items, settings, name, key, limits or Limits())

    def _replayed_batch(self, actor: Actor, key: Keyed) -> BatchSummary | None:
        """The batch an earlier request with the same key made, if any."""
        if key.key is None:
            return None
        workspace_id, user_id, _ = self._member(actor)
        with self.store.read() as tx:
            earlier = tx.find_idempotent_batch(workspace_id, key.key)
            if earlier is None:
                return None
            return _summaries(tx, [key.same_request(earlier, user_id)])[0]

    def quote_batch_items(
        self,
        actor: Actor,
        tool_id: str,
        items: Sequence[Sequence[JobInput]],
        settings: JsonDict | None = None,
    ) -> Quote:
        """What a batch of these items would cost in all, and what stops it: each
        child priced as a job, the lines of the same kind added up, the total held
        against the credits available."""
        quotes = [self.quote(actor, tool_id, item, settings) for item in items]
        merged: dict[tuple[str, int], EstimateLine] = {}
        blocking: list[JsonDict] = []
        for number, quote in enumerate(quotes, start=1):
            for line in quote.estimate.lines:
                key = (line.label, line.unit_credits)
                seen = merged.get(key)
                merged[key] = EstimateLine(
                    line.label,
                    line.quantity + (seen.quantity if seen else 0),
                    line.unit_credits,
                    line.credits + (seen.credits if seen else 0),
                )
            for error in quote.blocking_errors:
                if error.get("code") in ("insufficient_credits", "concurrent_job_limit_exceeded"):
                    continue
                message = error.get("message", "")
                blocking.append({**error, "item": number, "message": f"item {number}: {message}"})
        estimate = Estimate(tuple(merged.values()))
        first = quotes[0]
        if estimate.credits > first.available_credits:
            blocking.append(
                {
                    "code": "insufficient_credits",
                    "message": f"needs {estimate.credits} credits for {len(items)} jobs, "
                    f"{first.available_credits} available",
                }
            )
        return replace(first, estimate=estimate, blocking_errors=tuple(blocking))

    def quote_batch_input(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None = None,
    ) -> tuple[Quote, int]:
        """The quote of a batch given as one input the tool splits (several ligands
        for one receptor), with the number of jobs it makes."""
        tool = self._requested_tool(tool_id)
        resolved = self._resolve_sources(actor, inputs)
        items = tool.batch_items(resolved, tool.parse_settings(settings))
        return self.quote_batch_items(actor, tool_id, items, settings), len(items)

    def _submit_batch(
        self,
        actor: Actor,
        tool_id: str,
        items: Sequence[Sequence[JobInput]],
        settings: JsonDict | None,
        name: str | None,
        key: Keyed,
        limits: Limits,
    ) -> BatchSummary:
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot run jobs")
        limits = limits.checked()
        limit = self._batch_limit(tool_id)
        if not 1 <= len(items) <= limit:
            raise ValidationError(
                f"a {tool_id} batch takes 1 to {limit} items, got {len(items)}",
                errors=[{"field": "items", "message": f"1 to {limit} items"}],
            )
        prepared = []
        errors: list[JsonDict] = []
        for number, given in enumerate(items, start=1):
            try:
                item = self._resolve_sources(actor, given)
                tool, parsed, cost, _ = self._prepare(tool_id, item, settings)
            except ValidationError as exc:
                errors.extend(
                    {**e, "item": number, "message": f"item {number}: {e['message']}"}
                    for e in exc.errors
                )
            else:
                held = credits.hold_for(cost, limits.max_credits, tool.billed_by_use)
                prepared.append((tool.with_slot_kinds(item), parsed, cost, held))
        if errors:
            raise ValidationError("; ".join(e["message"] for e in errors), errors=errors)
        for number, (_, _, cost, _) in enumerate(prepared, start=1):
            over = credits.cap_problem(f"item {number}: {tool_id}", cost, limits.max_credits)
            if over is not None:
                raise CreditCapExceeded(
                    over,
                    details={
                        "item": number,
                        "estimated_credits": cost,
                        "max_credits": limits.max_credits,
                    },
                )
        self._check_runnable(tool_id)
        now = self.clock()
        batch = Batch(
            id=new_id("batch"),
            workspace_id=workspace_id,
            submitter_id=user_id,
            tool=tool_id,
            name=job_name(name, f"{tool.name} batch", now),
            created_at=now,
            reserved_credits=sum(cost if held is None else held for _, _, cost, held in prepared),
            max_credits=limits.max_credits,
        )
        with self._write() as (tx, outbox):
            tx.lock_workspace(workspace_id)
            if key.key is not None:
                earlier = tx.find_idempotent_batch(workspace_id, key.key)
                if earlier is not None:  # a concurrent request with the key came first
                    return _summaries(tx, [key.same_request(earlier, user_id)])[0]
            chosen = limits.budget_in(tx, workspace_id, user_id, now)
            if chosen is not None:
                budgets.hold_in_budget(tx, chosen, batch.reserved_credits)
                batch = replace(batch, budget_id=chosen.id)
            balance = credits.available(tx, workspace_id)
            if balance < batch.reserved_credits:
                raise InsufficientCredits(
                    f"this batch needs {batch.reserved_credits} credits and the workspace "
                    f"has {balance} available",
                    details={
                        "required_credits": batch.reserved_credits,
                        "available_credits": balance,
                    },
                )
            tx.insert_batch(batch, key.key, key.fingerprint)
            credits.reserve_batch(tx, batch, now)
            for number, (inputs, parsed, cost, held) in enumerate(prepared, start=1):
                child = Job(
                    id=new_id("job"),
                    workspace_id=workspace_id,
                    submitter_id=user_id,
                    tool=tool_id,
                    name=f"{batch.name} #{number}",
                    status=JobStatus.QUEUED,
                    inputs=inputs,
                    settings=parsed,
                    created_at=now,
                    updated_at=now,
                    estimated_credits=cost,
                    batch_id=batch.id,
                    budget_id=batch.budget_id,
                    max_credits=limits.max_credits,
                    reserved_credits=held,
                )
                self._insert_created(tx, outbox, child)
            self._promote_queued(tx, outbox, workspace_id)
            return _summaries(tx, [batch])[0]

    def _batch_limit(self, tool_id: str) -> int:
        try:
            declared = self.tools.get(tool_id).limits.get("max_batch_items")
        except NotFound:
            declared = None
        return int(declared) if declared else self.config.max_batch_items

    def get_batch(self, actor: Actor, batch_id: str) -> BatchSummary:
        with self.store.read() as tx:
            return _summaries(tx, [self._batch_of(tx, actor, batch_id)])[0]

    def list_batches(
        self, actor: Actor, *, starting_after: str | None = None, limit: int = 20
    ) -> tuple[list[BatchSummary], str | None]:
        workspace_id, _, _ = self._member(actor)
        check_limit(limit)
        after = start_after(starting_after)
        with self.store.read() as tx:
            rows = tx.list_batches(workspace_id, after, limit + 1)
            summaries = _summaries(tx, rows[:limit])
        more = len(rows) > limit
        return summaries, (
            cursor_after(rows[limit - 1].created_at, rows[limit - 1].id) if more else None
        )

    def cancel_batch(self, actor: Actor, batch_id: str) -> BatchSummary:
        """Cancel every child still waiting or running."""
        with self._write() as (tx, outbox):
            batch = self._changeable_batch(tx, actor, batch_id)
            live = [c.id for c in tx.batches_children([batch_id]) if c.status in CANCELLABLE]
            for job_id in live:
                # Cancelling one child can let a queued one in: each is read afresh.
                child = tx.get_job(job_id, for_update=True)
                if child is not None and child.status in CANCELLABLE:
                    self._cancel(tx, outbox, child)
            return _summaries(tx, [batch])[0]

    def retry_failed_children(self, actor: Actor, batch_id: str) -> list[Job]:
        """Run again, in the same batch, only the children that failed, timed out
        or were cancelled (once each: a child already re-run is not re-run again).
        Each new child holds its own credits, charged as usual."""
        created: list[Job] = []
        with self._write() as (tx, outbox):
            workspace_id = self._changeable_batch(tx, actor, batch_id).workspace_id
            tx.lock_workspace(workspace_id)
            children = tx.batch_children(batch_id)
            rerun = {c.origin_job_id for c in children if c.origin_job_id}
            failed = [c for c in children if c.status in RETRYABLE and c.id not in rerun]
            now = self.clock()
            for old in failed:
                child = replace(
                    old,
                    id=new_id("job"),
                    name=derived_name(old.name, "retry"),
                    status=JobStatus.QUEUED,
                    created_at=now,
                    updated_at=now,
                    progress=0.0,
                    progress_message=None,
                    status_reason=None,
                    error=None,
                    result=None,
                    credits_charged=0,
                    attempts=0,
                    origin_job_id=old.id,
                    provenance=derived(old.id, Derivation.RETRY),
                    started_at=None,
                    finished_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    visibility=Visibility.PRIVATE,
                )
                budget = tx.get_budget(child.budget_id) if child.budget_id else None
                if budget is not None:
                    budgets.hold_in_budget(tx, budget, child.held_credits)
                credits.reserve(tx, child, now)
                self._insert_created(tx, outbox, child)
                created.append(child)
            self._promote_queued(tx, outbox, workspace_id)
            fresh = [tx.get_job(job.id) for job in created]
        return [job for job in fresh if job is not None]

    def _batch_of(self, tx: StoreTransaction, actor: Actor, batch_id: str) -> Batch:
        """A batch of the actor's workspace."""
        workspace_id, _, _ = self._member(actor)
        batch = tx.get_batch(batch_id)
        if batch is None or batch.workspace_id != workspace_id:
            raise NotFound(f"no batch {batch_id}", details={"batch_id": batch_id})
        return batch

    def _changeable_batch(self, tx: StoreTransaction, actor: Actor, batch_id: str) -> Batch:
        batch = self._batch_of(tx, actor, batch_id)
        _, user_id, role = self._member(actor)
        if batch.submitter_id != user_id and not role.manages_workspace:
            raise Forbidden(f"only the submitter or a workspace admin may change batch {batch_id}")
        return batch


class Keyed:
    """A batch request's idempotency key and fingerprint (None without a key)."""

    def __init__(
        self,
        key: str | None,
        *,
        tool: str,
        settings: JsonDict | None,
        name: str | None,
        items: Sequence[Sequence[JobInput]] | None = None,
        inputs: Sequence[JobInput] | None = None,
    ) -> None:
        check_idempotency_key(key)
        self.key = key
        self.fingerprint = (
            batch_request_hash(tool, settings, name, items=items, inputs=inputs) if key else None
        )

    def same_request(self, earlier: tuple[Batch, str | None], user_id: str) -> Batch:
        """The earlier batch, when this is the request that made it."""
        batch, stored = earlier
        if batch.submitter_id != user_id:
            raise Conflict(
                "this Idempotency-Key was already used by someone else in the workspace",
                details={"batch_id": batch.id},
            )
        if stored is not None and self.fingerprint is not None and stored != self.fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used for a different request",
                details={"batch_id": batch.id},
            )
        return batch


def _summaries(tx: StoreTransaction, batches: Sequence[Batch]) -> list[BatchSummary]:
    """What each batch's children add up to, read in one query."""
    children: dict[str, list[Job]] = {batch.id: [] for batch in batches}
    for child in tx.batches_children(list(children)):
        if child.batch_id is not None:
            children[child.batch_id].append(child)
    return [_summary(batch, children[batch.id]) for batch in batches]


def _summary(batch: Batch, children: Sequence[Job]) -> BatchSummary:
    counts: dict[str, int] = {}
    for child in children:
        counts[str(child.status)] = counts.get(str(child.status), 0) + 1
    done = [1.0 if c.status.is_terminal else c.progress for c in children]
    return BatchSummary(
        batch=replace(batch, child_ids=tuple(c.id for c in children)),
        counts=counts,
        progress=sum(done) / len(done) if done else 0.0,
        credits_charged=sum(c.credits_charged for c in children),
    )
