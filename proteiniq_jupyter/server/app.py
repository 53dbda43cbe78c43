"""The ``proteiniq`` server extension: configuration, the engine, the routes."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from ..config import EngineConfig
from ..engine import open_engine
from ..execution import handoff
from ..links import SERVER_PUBLIC_PATH, HubLinks
from . import events, feed, files, openapi, public
from .identity import Identity, running_under_jupyterhub
from .ratelimit import RateLimiter
from .routes import fallback_route, route_table
from .state import ServerState


def _given(value: Any) -> Any:
    """An empty value of a trait leaves the setting to the environment."""
    return value or None


def _as_is(value: Any) -> Any:
    return value


def _time_limits(limits: dict[Any, Any]) -> tuple[tuple[str, float], ...] | None:
    return tuple((str(tool), float(seconds)) for tool, seconds in limits.items()) or None


#: Each trait that sets an engine setting: the setting (an ``EngineConfig`` field)
#: and the setting's value for the trait's. A trait counts once it is set rather than
#: left at its default; a value that maps to None leaves the setting to the
#: environment.
ENGINE_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "database_url": ("database_url", _given),
    "data_dir": ("data_dir", _given),
    "user": ("username", _given),
    "email": ("email", _given),
    "workspace": ("workspace_id", _given),
    "starting_credits": ("starting_credits", _as_is),
    "executor": ("executor", _as_is),
    "dask_scheduler_address": ("dask_scheduler_address", _given),
    "dask_workers": ("dask_workers", _given),
    "dask_dashboard": ("dask_dashboard_address", _given),
    "max_attempts": ("max_attempts", _as_is),
    "batch_concurrency": ("batch_concurrency", _as_is),
    "time_limits": ("time_limits", _time_limits),
    "max_upload_bytes": ("max_upload_bytes", _as_is),
    "admins": ("admins", tuple),
}

#: What kernels started by this server find in their environment.
SERVER_URL_ENV = "PIQ_SERVER_URL"
SERVER_TOKEN_ENV = "PIQ_SERVER_TOKEN"
KERNEL_ENV = (SERVER_URL_ENV, SERVER_TOKEN_ENV)


class ProteinIQApp(ExtensionApp):
    """Protein and molecule tools as tracked jobs, served to JupyterLab, widgets
    and kernels. Every setting also reads its PIQ_* environment variable."""

    name = "proteiniq"
    load_other_extensions = True
    # Served at {base_url}static/proteiniq/ (the bundled 3D viewer, among others).
    static_paths = [str(Path(__file__).resolve().parents[1] / "static")]  # noqa: RUF012

    database_url = Unicode(
        "", config=True, help="Job database; SQLite under the Jupyter data dir when empty."
    )
    data_dir = Unicode("", config=True, help="Where job files live.")
    user = Unicode(
        "",
        config=True,
        help="Who jobs belong to on a server without JupyterHub (default: OS user).",
    )
    email = Unicode("", config=True, help="That user's email (makes invites to it active).")
    workspace = Unicode("", config=True, help="The workspace to act in (default: the user's own).")
    trust_identity_provider = Bool(
        config=True,
        help="Take each request's Jupyter user name as the person (true under JupyterHub).",
    )
    starting_credits = Int(
        EngineConfig.starting_credits, config=True, help="Credits granted to a new workspace."
    )
    executor = Unicode(
        EngineConfig.executor,
        config=True,
        help="dask, inprocess, detached, or service (jobs left to the engine service).",
    )
    dask_scheduler_address = Unicode(
        "", config=True, help="A remote Dask scheduler; an embedded LocalCluster when empty."
    )
    dask_workers = Int(0, config=True, help="Workers of the embedded cluster (0: one per core).")
    dask_dashboard = Unicode(
        "",
        config=True,
        help="Serve the embedded cluster's Dask dashboard here (127.0.0.1:8787); none when empty.",
    )
    max_attempts = Int(EngineConfig.max_attempts, config=True, help="Attempts before a job fails.")
    batch_concurrency = Int(
        EngineConfig.batch_concurrency,
        config=True,
        help="Batch children running at once per workspace.",
    )
    time_limits = Dict(
        per_key_traits=None, config=True, help="Per-tool time limits in seconds, by tool id."
    )
    # One person's own front ends read after events: the lab's panels and every table
    # and progress widget of their notebooks. A burst of short jobs (a hundred in a
    # minute) made them ask 600 times a minute, and the 429s held their views back
    # for half a minute. The limit is there to stop a runaway loop, not them.
    rate_limit = Int(3000, config=True, help="Requests per user per rate_limit_window (0: none).")
    rate_limit_window = Float(60.0, config=True, help="Seconds of a rate-limit window.")
    max_upload_bytes = Int(
        EngineConfig.max_upload_bytes, config=True, help="Largest accepted upload."
    )
    admins = List(
        Unicode(),
        config=True,
        help="The deployment's administrators: they create team workspaces and manage "
        "their members.",
    )
    service_threads = Int(8, config=True, help="Threads doing store work for requests.")
    public_path = Unicode(
        SERVER_PUBLIC_PATH,
        config=True,
        help="Where public job pages are served, under the base URL.",
    )

    @default("trust_identity_provider")
    def _default_trust(self) -> bool:
        return running_under_jupyterhub()

    def engine_config(self) -> EngineConfig:
        """The environment's configuration with this extension's traits on top."""
        given = {}
        for trait, (setting, convert) in ENGINE_SETTINGS.items():
            if self._set(trait):
                given[setting] = convert(getattr(self, trait))
        return EngineConfig.from_env(**given)

    def _set(self, trait: str) -> bool:
        """Whether a trait was given a value (by a configuration file, a command-line
        flag or code) rather than holding its default, which leaves the setting to
        its PIQ_* variable."""
        configured = self.config.get(type(self).__name__, {})
        return trait in configured or bool(getattr(self, trait) != self.trait_defaults(trait))

    def initialize_settings(self) -> None:
        config = self.engine_config()
        engine = open_engine(config)
        pool = ThreadPoolExecutor(max_workers=self.service_threads, thread_name_prefix="piq-api")
        state = ServerState(
            engine=engine,
            identity=None,  # type: ignore[arg-type]
            limiter=RateLimiter(self.rate_limit, self.rate_limit_window),
            pool=pool,
            public_path=self.public_path,
            hub_links=HubLinks.from_env() if running_under_jupyterhub() else None,
        )
        state.identity = Identity(
            engine.service,
            state.run,
            trust_identity_provider=self.trust_identity_provider,
            user=config.username,
            email=config.email,
            workspace=config.workspace_id,
        )
        self.state = state
        self.settings["proteiniq"] = state
        feed.start_feed(state)
        # Jobs accepted while no engine ran (or left by one that died) are picked up
        # now; a Dask cluster itself starts with the first job.
        engine.executor.start()
        IOLoop.current().add_callback(self._tell_kernels)
        IOLoop.current().add_callback(self._announce, config)
        self.log.info(
            "proteiniq: jobs in %s, run by the %s executor", config.database_url, config.executor
        )

    def _announce(self, config: EngineConfig) -> None:
        """An engine that takes waiting jobs from the store says so, so that ``piq
        run`` on this machine hands it its jobs."""
        if config.executor != "dask":
            return
        server = self.serverapp
        url = server.connection_url if server is not None else None
        self._runtime_file = handoff.announce(config, "server", url)

    def _tell_kernels(self) -> None:
        """Kernels started from now on inherit the server's address and token."""
        server = self.serverapp
        if server is None:  # not run by a Jupyter server
            return
        self._environ_before = {name: os.environ.get(name) for name in KERNEL_ENV}
        os.environ[SERVER_URL_ENV] = server.connection_url
        token = getattr(server.identity_provider, "token", "") or ""
        if token:
            os.environ[SERVER_TOKEN_ENV] = token

    def _forget_kernels(self) -> None:
        """A stopped server's address leaves the environment with it: what this
        process starts later (another server's kernels) must not find it."""
        before: dict[str, str | None] = getattr(self, "_environ_before", {})
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_table())
        self.handlers.extend(openapi.route_table())
        self.handlers.extend(files.route_table())
        self.handlers.extend(public.route_table(self.public_path))
        self.handlers.extend(events.route_table())
        self.handlers.extend(fallback_route())

    async def stop_extension(self) -> None:
        self._forget_kernels()
        state = getattr(self, "state", None)
        if state is None:
            return
        state.stopping = True
        runtime_file = getattr(self, "_runtime_file", None)
        if runtime_file is not None:
            handoff.withdraw(runtime_file)
        await feed.stop_feed(state)
        await IOLoop.current().run_in_executor(None, state.engine.close)
        state.pool.shutdown(wait=False)
