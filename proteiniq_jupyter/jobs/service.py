"""JobService: what the faces (HTTP handlers, the CLI, scripts) call.

Faces parse a request, call one method here and render what comes back. The
methods live in one module per area, each over the shared core (``core``):
accounts and members, teams, submission and quotes, batches, uploaded files, reading,
and changes. What executors and job supervisors call to report what really
happened lives on the runs side (``runs.RunService``), built over the same parts
as ``JobService.runs``: events either side publishes reach the subscribers of
the one event bus.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .batches import Batches
from .budgets import Budgets
from .changes import Changes
from .core import ServiceConfig, ServiceParts
from .events import EventBus
from .model import utcnow
from .ports import JobFiles, Store, StructureSource, ToolCatalog
from .reading import Reading
from .runs import RunService
from .teams import Teams
from .uploads import Uploads


class JobService(Teams, Batches, Budgets, Changes, Uploads, Reading):
    def __init__(
        self,
        store: Store,
        tools: ToolCatalog,
        files: JobFiles,
        *,
        config: ServiceConfig | None = None,
        bus: EventBus | None = None,
        clock: Callable[[], datetime] = utcnow,
        structures: StructureSource | None = None,
    ) -> None:
        super().__init__(
            ServiceParts(
                store=store,
                tools=tools,
                files=files,
                config=config or ServiceConfig(),
                bus=bus or EventBus(),
                clock=clock,
                structures=structures,
            )
        )
        #: The runs side, over the same store, bus, files, configuration and executor.
        self.runs = RunService(self.parts)
