"""The REST routes under ``{base_url}proteiniq/api/v1/``. Each is thin: read the
request, call one service method off the event loop, render the resource."""

from __future__ import annotations

from jupyter_server.utils import url_path_join

from .. import api
from ..api.scene import job_scene
from ..jobs.errors import NotFound, ValidationError
from ..jobs.model import Job, Share
from ..jobs.ports import JobFilter
from ..jobs.sorting import JobSort
from ..jobs.status import JobStatus
from .base import PiqHandler, authenticated
from .budget_routes import budget_routes
from .team_routes import team_routes

API = "/proteiniq/api/v1"
JOB_ID = r"(?P<job_id>[A-Za-z0-9_\-]+)"


def api_url(handler: PiqHandler, *parts: str) -> str:
    return url_path_join(handler.base_url, "proteiniq", "api", "v1", *parts)


def public_url(handler: PiqHandler, job_id: str) -> str:
    """The job's public page: under JupyterHub the engine service's, which outlives
    this server."""
    links = handler.state.hub_links
    if links is not None:
        return links.public(job_id)
    return url_path_join(handler.base_url, handler.state.public_path, job_id)


def idempotency_key(handler: PiqHandler) -> str | None:
    """The request's ``Idempotency-Key`` (or ``X-Idempotency-Key``) header."""
    headers = handler.request.headers
    return headers.get("Idempotency-Key") or headers.get("X-Idempotency-Key")


class AccountHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        account = await self.call(self.state.service.account, actor)
        self.send(api.Account.of(account))


class ToolsHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        service, tools = self.state.service, self.state.engine.tools
        self.send(await self.call(api.ToolList.of, tools, service.tool_availability))


class ToolHandler(PiqHandler):
    @authenticated
    async def get(self, tool_id: str) -> None:
        tool = self.state.engine.tools.get(tool_id)
        availability = await self.call(self.state.service.tool_availability, tool_id)
        self.send(api.ToolDetail.of(tool, availability))


class QuoteHandler(PiqHandler):
    @authenticated
    async def post(self) -> None:
        body = self.json_body()
        actor = await self.actor()
        request = api.QuoteRequest.parse(body)
        quote = await self.call(
            self.state.service.quote,
            actor,
            request.tool,
            request.input.to_domain(),
            request.settings,
            **request.limits().as_arguments(),
        )
        self.send(api.JobQuote.of(quote))


class JobsHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        statuses = []
        for value in self.get_query_arguments("status"):
            for part in value.split(","):
                try:
                    statuses.append(JobStatus(part.strip().upper()))
                except ValueError:
                    raise ValidationError(
                        f"unknown status {part!r}",
                        errors=[{"field": "status", "message": f"unknown status {part!r}"}],
                    ) from None
        job_filter = JobFilter(
            tool=self.get_query_argument("tool", None),
            statuses=tuple(statuses),
            submitter_id=self.get_query_argument("submitter", None),
            name_contains=self.get_query_argument("q", None),
            batch_id=self.get_query_argument("batch", None),
        )
        actor = await self.actor()
        if self.get_query_argument("mine", "") in ("1", "true"):
            job_filter = JobFilter(**{**job_filter.__dict__, "submitter_id": actor.user_id})
        sort = JobSort.parse(
            self.get_query_argument("sort", None), self.get_query_argument("order", None)
        )
        starting_after = self.get_query_argument("starting_after", None)
        limit = self.query_int("limit", 20)
        service = self.state.service

        def page_json() -> str:
            # One trip to the pool for the page, the names and the JSON: every trip
            # is two thread switches, the biggest cost of a page on a busy machine.
            page = service.list_jobs(
                actor, job_filter, starting_after=starting_after, limit=limit, sort=sort
            )
            return api.render(api.JobList.of(page, service.usernames(actor)))

        self.send_json(await self.call(page_json))

    @authenticated
    async def post(self) -> None:
        body = self.json_body()
        key = idempotency_key(self)
        actor = await self.actor()
        request = api.JobCreate.parse(body)
        service = self.state.service

        def submit() -> Job:
            return service.submit(
                actor,
                request.tool,
                request.input.to_domain(),
                request.settings,
                name=request.name,
                idempotency_key=key,
                **request.limits().as_arguments(),
            )

        job_id, text = await self.read_job(actor, submit)
        self.set_header("Location", api_url(self, "jobs", job_id))
        self.send_json(text, 201)


class JobHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        await self.send_job(await self.actor(), job_id)

    @authenticated
    async def patch(self, job_id: str) -> None:
        request = api.JobUpdate.parse(self.json_body())
        actor = await self.actor()
        service = self.state.service

        def rename() -> str:
            service.rename(actor, job_id, request.name)
            return job_id

        await self.send_job(actor, rename)

    @authenticated
    async def delete(self, job_id: str) -> None:
        actor = await self.actor()
        await self.call(self.state.service.delete, actor, job_id)
        self.send(api.DeletedJob.of(job_id))


class JobActionHandler(PiqHandler):
    """POST jobs/{id}/cancel, retry and duplicate."""

    @authenticated
    async def post(self, job_id: str, action: str) -> None:
        actor = await self.actor()
        service = self.state.service
        duplicate = None
        if action == "duplicate":
            duplicate = api.JobDuplicate.parse(self.json_body() if self.request.body else {})

        def change() -> str | Job:
            if action == "cancel":
                service.cancel(actor, job_id)
                return job_id
            if duplicate is None:
                return service.retry(actor, job_id)
            return service.duplicate(
                actor, job_id, settings=duplicate.settings, name=duplicate.name
            )

        await self.send_job(actor, change, status=200 if action == "cancel" else 201)


class JobStatusHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        view = await self.call(self.state.service.get, actor, job_id)
        self.send(api.JobStatusResource.of(view.job))


class ResultHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        job = await self.call(self.state.service.result, actor, job_id)
        files_url = api_url(self, "jobs", job_id, "files", "{name}")
        self.send(api.JobResult.of(job, files_url))


class ExportHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        fmt = self.get_query_argument("format", "json")
        actor = await self.actor()
        text = await self.call(self.state.service.export, actor, job_id, fmt)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{job_id}.{fmt}"')
        await self.stream(text.encode("utf-8"))


class SceneHandler(PiqHandler):
    """What a job's result draws in 3D (structures, pLDDT, docked poses): the
    scene the notebook's structure view draws too; null with no structure."""

    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        service = self.state.service

        def scene_json() -> str:
            scene = job_scene(api.Job.of(service.get(actor, job_id), None))
            return "null" if scene is None else api.render(scene)

        self.send_json(await self.call(scene_json))


class ShareHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        share = await self.call(self.state.service.get_share, actor, job_id)
        self.send(self._resource(share))

    @authenticated
    async def put(self, job_id: str) -> None:
        request = api.ShareUpdate.parse(self.json_body())
        actor = await self.actor()
        share = await self.call(
            self.state.service.share,
            actor,
            job_id,
            request.visibility,
            invite=request.invite,
            uninvite=request.uninvite,
        )
        self.send(self._resource(share))

    def _resource(self, share: Share) -> api.Share:
        public = str(share.visibility) == "public"
        return api.Share.of(share, public_url(self, share.job_id) if public else None)


class JobFileHandler(PiqHandler):
    """One output file of a job (what ``results/{id}`` lists)."""

    @authenticated
    async def get(self, job_id: str, name: str) -> None:
        actor = await self.actor()
        path, entry = await self.call(self.state.service.job_file, actor, job_id, name)
        self.set_header("Content-Type", entry.content_type)
        if self.get_query_argument("download", "1") != "0":
            self.set_header("Content-Disposition", f'attachment; filename="{entry.name}"')
        await self.stream(path)


class BatchesHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        summaries, cursor = await self.call(
            self.state.service.list_batches,
            actor,
            starting_after=self.get_query_argument("starting_after", None),
            limit=self.query_int("limit", 20),
        )
        self.send(api.BatchList.of(summaries, cursor))

    @authenticated
    async def post(self) -> None:
        request = api.BatchCreate.parse(self.json_body())
        key = idempotency_key(self)
        actor = await self.actor()
        service = self.state.service
        if isinstance(request.input, api.JobInputRequest):  # one input, split by the tool
            summary = await self.call(
                service.submit_batch_input,
                actor,
                request.tool,
                request.input.to_domain(),
                request.settings,
                name=request.name,
                idempotency_key=key,
                limits=request.limits(),
            )
        else:
            summary = await self.call(
                service.submit_batch,
                actor,
                request.tool,
                request.children(),
                request.settings,
                name=request.name,
                idempotency_key=key,
                limits=request.limits(),
            )
        self.send(api.Batch.of(summary), status=201)


class BatchHandler(PiqHandler):
    @authenticated
    async def get(self, batch_id: str) -> None:
        actor = await self.actor()
        summary = await self.call(self.state.service.get_batch, actor, batch_id)
        self.send(api.Batch.of(summary))


class BatchActionHandler(PiqHandler):
    @authenticated
    async def post(self, batch_id: str, action: str) -> None:
        actor = await self.actor()
        if action == "cancel":
            summary = await self.call(self.state.service.cancel_batch, actor, batch_id)
            self.send(api.Batch.of(summary))
            return
        jobs = await self.call(self.state.service.retry_failed_children, actor, batch_id)
        summary = await self.call(self.state.service.get_batch, actor, batch_id)
        self.send(api.BatchRetry.after(summary, jobs), status=201)


class NotFoundHandler(PiqHandler):
    """Anything else under the API prefix: the error envelope, not Jupyter's HTML
    page. Routed after every other route of the extension (``fallback_route``)."""

    @authenticated
    async def get(self, path: str) -> None:
        raise NotFound(f"no route {self.request.method} {self.request.path}")

    post = put = patch = delete = get


def fallback_route() -> list[tuple[str, type[PiqHandler]]]:
    """What answers a path under the API prefix that no route takes: last of all."""
    return [(rf"{API}/(?P<path>.*)", NotFoundHandler)]


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{API}/account", AccountHandler),
        (rf"{API}/tools", ToolsHandler),
        (rf"{API}/tools/(?P<tool_id>[A-Za-z0-9_.\-]+)", ToolHandler),
        (rf"{API}/jobs/quote", QuoteHandler),
        (rf"{API}/jobs", JobsHandler),
        (rf"{API}/jobs/{JOB_ID}", JobHandler),
        (rf"{API}/jobs/{JOB_ID}/(?P<action>cancel|retry|duplicate)", JobActionHandler),
        (rf"{API}/jobs/{JOB_ID}/status", JobStatusHandler),
        (rf"{API}/jobs/{JOB_ID}/export", ExportHandler),
        (rf"{API}/jobs/{JOB_ID}/share", ShareHandler),
        (rf"{API}/jobs/{JOB_ID}/scene", SceneHandler),
        (rf"{API}/jobs/{JOB_ID}/files/(?P<name>[^/]+)", JobFileHandler),
        (rf"{API}/results/{JOB_ID}", ResultHandler),
        *budget_routes(API),
        *team_routes(API),
        (rf"{API}/batches", BatchesHandler),
        (rf"{API}/batches/(?P<batch_id>[A-Za-z0-9_\-]+)", BatchHandler),
        (
            rf"{API}/batches/(?P<batch_id>[A-Za-z0-9_\-]+)/(?P<action>cancel|retry-failed)",
            BatchActionHandler,
        ),
    ]
