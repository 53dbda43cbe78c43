"""What the engine knows of a Dask cluster's workers: their threads, whether any
has a GPU, which tools each can run and why the others cannot (from what the
workers reported when they started), and which workers left, as the scheduler
tells it the moment one does; and the embedded cluster itself."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dask
from distributed import Client, LocalCluster
from distributed.client import ClosedClientError

from ..config import EngineConfig
from .dask_tasks import GPU_RESOURCE, TOOL_RESOURCE_PREFIX, WORKER_TOPIC, job_of_task

#: The scheduler's own topic, on which it says when a worker leaves.
CLUSTER_TOPIC = "all"
#: Why a dispatched job that a worker can run waits.
WAITING_FOR_GPU = "waiting for a GPU worker"
WAITING_FOR_WORKER = "waiting for a free worker"


@dataclass(frozen=True)
class WorkerLeft:
    """A worker the scheduler removed, with the job tasks it was running."""

    address: str
    job_ids: frozenset[str]


@dataclass
class ClusterView:
    """The workers as last seen (``refresh``, one round trip), and the workers that
    left since the engine last looked (``take_departures``)."""

    threads: int = 1
    has_gpu: bool = False
    #: tool id -> addresses of the workers that advertise it
    capable: dict[str, set[str]] = field(default_factory=dict)
    #: worker address -> its report (what it uses, what it cannot run and why)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    _departures: list[WorkerLeft] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refreshing: threading.Lock = field(default_factory=threading.Lock)
    _refreshed_at: float = float("-inf")

    def listen(self, client: Client, wake: Callable[[], None]) -> None:
        """Hear from the scheduler when a worker leaves, and wake the engine."""

        def on_event(event: tuple[float, dict[str, Any]]) -> None:
            _, message = event
            if not isinstance(message, dict) or message.get("action") != "remove-worker":
                return
            address = str(message.get("worker", ""))
            keys = message.get("processing-tasks") or ()
            jobs = frozenset(j for j in (job_of_task(k) for k in keys) if j)
            with self._lock:
                self._departures.append(WorkerLeft(address, jobs))
            wake()

        client.subscribe_topic(CLUSTER_TOPIC, on_event)

    @staticmethod
    def stop_listening(client: Client) -> None:
        """Before the client closes: the scheduler would otherwise try to tell it of
        its own leaving, and log a traceback when it cannot."""
        with contextlib.suppress(ValueError, ClosedClientError):  # not listening, or gone
            client.unsubscribe_topic(CLUSTER_TOPIC)

    def take_departures(self) -> list[WorkerLeft]:
        with self._lock:
            departures, self._departures = self._departures, []
        return departures

    def refresh(self, client: Client, max_age_s: float = 0.0) -> None:
        """Look again, unless the last look is younger than ``max_age_s``."""
        with self._refreshing:  # the monitor and a quote may look at once
            if time.monotonic() - self._refreshed_at < max_age_s:
                return
            self._refresh(client)
            self._refreshed_at = time.monotonic()

    def _refresh(self, client: Client) -> None:
        info: dict[str, Any] = client.scheduler_info(n_workers=-1)
        workers: dict[str, Any] = info.get("workers", {})
        self.threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        self.has_gpu = any(w.get("resources", {}).get(GPU_RESOURCE) for w in workers.values())
        capable: dict[str, set[str]] = {}
        for address, worker in workers.items():
            for name, amount in worker.get("resources", {}).items():
                if name.startswith(TOOL_RESOURCE_PREFIX) and amount:
                    capable.setdefault(name[len(TOOL_RESOURCE_PREFIX) :], set()).add(address)
        self.capable = capable
        reports = dict(self.reports)
        for _, report in client.get_events(WORKER_TOPIC):
            if isinstance(report, dict) and "worker" in report:
                reports[str(report["worker"])] = report
        self.reports = {address: r for address, r in reports.items() if address in workers}

    def why_none_can_run(self, tool_id: str) -> str | None:
        """None when a worker advertises the tool; otherwise what the workers said
        (the first reason given, and how many workers gave one)."""
        if self.capable.get(tool_id):
            return None
        reasons = [
            (address, report.get("missing", {}).get(tool_id))
            for address, report in sorted(self.reports.items())
            if report.get("missing", {}).get(tool_id)
        ]
        if not reasons:
            if not self.reports:
                return f"no worker of the cluster can run {tool_id} yet (no worker has joined)"
            return f"no worker of the cluster can run {tool_id} yet"
        address, reason = reasons[0]
        others = f" (and {len(reasons) - 1} more worker(s))" if len(reasons) > 1 else ""
        return f"no worker of the cluster can run {tool_id} yet: {address}{others}: {reason}"

    def waiting_reason(self, tool_id: str | None, gpu: bool) -> str:
        """Why a dispatched job of ``tool_id`` (needing a GPU when ``gpu``) that no
        worker has taken yet waits."""
        reason = None if tool_id is None else self.why_none_can_run(tool_id)
        if reason is not None:
            return reason + "; the job waits for one that can"
        if gpu and not self.has_gpu:
            return WAITING_FOR_GPU
        return WAITING_FOR_WORKER


def start_embedded_cluster(config: EngineConfig) -> LocalCluster:
    """The cluster of an engine with no scheduler configured: one single-threaded
    worker process per core (or ``dask_workers``) on 127.0.0.1, given the engine's
    settings as their own."""
    # A worker that dies takes its task with it: the job goes to RETRY through
    # the store (and is charged once), never through a silent Dask re-run.
    # Dask's statistical profiler samples each worker's threads a hundred times a
    # second; a job's task only waits on the job's process, so there is nothing
    # to profile, and the CPU it takes is the tools'.
    embedded = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.worker.profile.enabled": False,
    }
    # No dashboard unless asked for: without one Dask would still serve its HTTP
    # routes on port 8787, and warn in every log when another cluster holds it.
    dashboard = config.dask_dashboard_address
    with dask.config.set(embedded):
        return LocalCluster(
            n_workers=config.dask_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=dashboard,
            scheduler_kwargs=None if dashboard else {"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
            env=config.to_env(),
        )
