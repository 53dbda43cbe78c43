"""The job service assembled from configuration: its store, tools, files and
structure source. The engine builds on it, and so does every process that runs
jobs (a Dask worker, a detached worker), which needs the service alone to record
what its jobs do."""

from __future__ import annotations

from .config import EngineConfig
from .jobs.core import ServiceConfig
from .jobs.service import JobService
from .pdb_archive import PdbArchive
from .store.sql_store import DirectoryJobFiles, SqlStore
from .tools.registry import ToolRegistry


def service_config(config: EngineConfig) -> ServiceConfig:
    """The rules the service applies, as configured."""
    return ServiceConfig(
        starting_credits=config.starting_credits,
        max_attempts=config.max_attempts,
        max_concurrent_jobs=config.max_concurrent_jobs,
        batch_concurrency=config.batch_concurrency,
        max_upload_bytes=config.max_upload_bytes,
        admins=config.admins,
    )


def build_service(
    config: EngineConfig, tools: ToolRegistry | None = None, *, store: SqlStore | None = None
) -> tuple[JobService, ToolRegistry]:
    """The service over the configured store (or ``store``, opened on it), with no
    executor attached, and the tools it offers: the installed ones and the
    configured extras unless ``tools`` says otherwise."""
    store = store if store is not None else SqlStore.open(config.database_url)
    registry = tools if tools is not None else ToolRegistry.from_entry_points(config.extra_tools)
    service = JobService(
        store,
        registry,
        DirectoryJobFiles(config.files_dir),
        config=service_config(config),
        structures=PdbArchive(config.pdb_url) if config.pdb_url else None,
    )
    return service, registry
