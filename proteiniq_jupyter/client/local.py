"""The in-process transport: the same engine and the same default store as the
CLI, in this process (plain IPython, VS Code, a script). Jobs run on a thread pool
here and are recorded where a JupyterLab on the same store finds them later.

Each call does what the server's route does with the same body (parsed by the same
request model) and answers the same resource model; waiting follows the engine's
event bus.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Mapping

from .. import api
from ..engine import Engine, open_engine
from ..execution.base import EngineExecutor
from ..jobs.errors import ValidationError
from ..jobs.model import Job, JobEvent
from ..jobs.ports import JobFilter
from ..jobs.sorting import JobSort
from ..jobs.status import JobStatus
from .events import BusEvents
from .transport import Connection, EventSink, JsonBody

#: Where a local job's file is, as a result lists it (read it with ``file``).
FILES_URL = "piq-local:jobs/{job_id}/files/{{name}}"


class LocalTransport:
    def __init__(
        self, connection: Connection, engine: Engine[EngineExecutor] | None = None
    ) -> None:
        self.engine = engine or open_engine(executor="inprocess")
        self.connection = connection
        self.service = self.engine.service
        self.actor = self.engine.actor()
        self.events = BusEvents(self._subscribe)

    def _subscribe(self, sink: Callable[[api.JobEvent], None]) -> Callable[[], None]:
        def take(event: JobEvent) -> None:
            sink(api.JobEvent.of(event))

        return self.service.bus.subscribe(take)

    def _job(self, job: str | Job) -> api.Job:
        """The job as the API renders it; a job a change handed back is taken as is
        where the actor made it (see ``named_view``)."""
        if isinstance(job, Job):
            return api.Job.of(*self.service.named_view(self.actor, job))
        return api.Job.of(*self.service.get_named(self.actor, job))

    def tools(self) -> api.ToolList:
        return api.ToolList.of(self.engine.tools, self.engine.service.tool_availability)

    def tool(self, tool_id: str) -> api.ToolDetail:
        tool = self.engine.tools.get(tool_id)
        return api.ToolDetail.of(tool, self.engine.service.tool_availability(tool_id))

    def quote(self, body: JsonBody) -> api.JobQuote:
        request = api.QuoteRequest.parse(body)
        return api.JobQuote.of(
            self.service.quote(
                self.actor,
                request.tool,
                request.input.to_domain(),
                request.settings,
                **request.limits().as_arguments(),
            )
        )

    def submit(self, body: JsonBody, idempotency_key: str) -> api.Job:
        request = api.JobCreate.parse(body)
        job = self.service.submit(
            self.actor,
            request.tool,
            request.input.to_domain(),
            request.settings,
            name=request.name,
            idempotency_key=idempotency_key,
            **request.limits().as_arguments(),
        )
        return self._job(job)

    def job(self, job_id: str) -> api.Job:
        return self._job(job_id)

    def jobs(self, params: Mapping[str, str]) -> api.JobList:
        statuses = []
        for part in (params.get("status") or "").split(","):
            if part.strip():
                try:
                    statuses.append(JobStatus(part.strip().upper()))
                except ValueError:
                    raise ValidationError(f"unknown status {part!r}") from None
        job_filter = JobFilter(
            tool=params.get("tool"),
            statuses=tuple(statuses),
            submitter_id=self.actor.user_id if params.get("mine") == "1" else None,
            name_contains=params.get("q"),
            batch_id=params.get("batch"),
        )
        page = self.service.list_jobs(
            self.actor,
            job_filter,
            starting_after=params.get("starting_after"),
            limit=int(params.get("limit", "20")),
            sort=JobSort.parse(params.get("sort"), params.get("order")),
        )
        return api.JobList.of(page, self.service.usernames(self.actor))

    def result(self, job_id: str) -> api.JobResult:
        job = self.service.result(self.actor, job_id)
        return api.JobResult.of(job, FILES_URL.format(job_id=job_id))

    def rename(self, job_id: str, name: str) -> api.Job:
        request = api.JobUpdate.parse({"name": name})
        self.service.rename(self.actor, job_id, request.name)
        return self._job(job_id)

    def delete(self, job_id: str) -> None:
        self.service.delete(self.actor, job_id)

    def action(self, job_id: str, action: str, body: JsonBody | None = None) -> api.Job:
        if action == "cancel":
            self.service.cancel(self.actor, job_id)
            return self._job(job_id)
        if action == "retry":
            return self._job(self.service.retry(self.actor, job_id))
        request = api.JobDuplicate.parse(body or {})
        job = self.service.duplicate(
            self.actor, job_id, settings=request.settings, name=request.name
        )
        return self._job(job)

    def share(self, job_id: str, body: JsonBody | None) -> api.Share:
        if body is None:
            share = self.service.get_share(self.actor, job_id)
        else:
            request = api.ShareUpdate.parse(body)
            share = self.service.share(
                self.actor,
                job_id,
                request.visibility,  # type: ignore[arg-type]  # checked by the service
                invite=request.invite,
                uninvite=request.uninvite,
            )
        return api.Share.of(share, None)

    def export(self, job_id: str, fmt: str) -> str:
        return self.service.export(self.actor, job_id, fmt)

    def file(self, job_id: str, name: str) -> bytes:
        path, _ = self.service.job_file(self.actor, job_id, name)
        return path.read_bytes()

    def submit_batch(self, body: JsonBody, idempotency_key: str) -> api.Batch:
        request = api.BatchCreate.parse(body)
        if isinstance(request.input, api.JobInputRequest):
            summary = self.service.submit_batch_input(
                self.actor,
                request.tool,
                request.input.to_domain(),
                request.settings,
                name=request.name,
                idempotency_key=idempotency_key or None,
                limits=request.limits(),
            )
        else:
            summary = self.service.submit_batch(
                self.actor,
                request.tool,
                request.children(),
                request.settings,
                name=request.name,
                idempotency_key=idempotency_key or None,
                limits=request.limits(),
            )
        return api.Batch.of(summary)

    def batch(self, batch_id: str) -> api.Batch:
        return api.Batch.of(self.service.get_batch(self.actor, batch_id))

    def batch_action(self, batch_id: str, action: str) -> api.Batch:
        if action == "cancel":
            return api.Batch.of(self.service.cancel_batch(self.actor, batch_id))
        if action != "retry-failed":
            raise ValidationError(f"unknown batch action {action!r}: cancel or retry-failed")
        jobs = self.service.retry_failed_children(self.actor, batch_id)
        return api.BatchRetry.after(self.service.get_batch(self.actor, batch_id), jobs)

    def files(self, params: Mapping[str, str]) -> api.FileList:
        records, cursor = self.service.list_files(
            self.actor,
            starting_after=params.get("starting_after"),
            limit=int(params.get("limit", "20")),
        )
        return api.FileList.of(records, cursor)

    def account(self) -> api.Account:
        return api.Account.of(self.service.account(self.actor))

    def open_budget(self, body: JsonBody) -> api.Budget:
        request = api.BudgetCreate.parse(body)
        use = self.service.open_budget(
            self.actor,
            request.name,  # type: ignore[arg-type]  # checked by the service
            request.credits,  # type: ignore[arg-type]
            notebook=request.notebook,
            update=request.update,
        )
        return api.Budget.of(use)

    def budgets(self) -> api.BudgetList:
        return api.BudgetList.of(self.service.budgets(self.actor))

    def follow(
        self, job_id: str, on_event: EventSink, *, after: int = 0, timeout: float | None = None
    ) -> int:
        """The job's logged events after ``after``, then those the engine publishes,
        until a final status. Subscribed before the log is read, so nothing falls
        between the two."""
        deadline = None if timeout is None else time.monotonic() + timeout
        live: queue.SimpleQueue[JobEvent] = queue.SimpleQueue()

        def take(event: JobEvent) -> None:
            if event.job_id == job_id:
                live.put(event)

        unsubscribe = self.service.bus.subscribe(take)
        try:
            backlog, status = self.service.job_event_replay(self.actor, job_id, after_seq=after)
            for event in backlog:
                after = event.seq
                on_event(api.JobEvent.of(event))
                if event.status.is_terminal:
                    return after
            if status is not None and status.is_terminal:  # over before ``after``
                return after
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"job {job_id} did not finish within {timeout} s")
                try:
                    event = live.get(timeout=remaining)
                except queue.Empty:
                    continue
                if event.seq <= after:
                    continue
                after = event.seq
                on_event(api.JobEvent.of(event))
                if event.status.is_terminal:
                    return after
        finally:
            unsubscribe()

    def history(self, job_id: str) -> list[api.JobEvent]:
        events, _ = self.service.job_event_replay(self.actor, job_id)
        return [api.JobEvent.of(event) for event in events]

    def lab_url(self, job_id: str) -> str | None:
        return None

    def close(self) -> None:
        self.events.close()
        self.engine.close()
