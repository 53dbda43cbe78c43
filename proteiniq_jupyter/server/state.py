"""What the extension holds while the server runs: the engine, a thread pool for
store work (none of it runs on the event loop), identities and rate limits."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..engine import Engine
from ..execution.base import EngineExecutor
from ..jobs.service import JobService
from ..links import SERVER_PUBLIC_PATH, HubLinks
from .identity import Identity
from .ratelimit import RateLimiter

T = TypeVar("T")

#: Seconds a client is asked to wait before trying a server that is stopping.
STOPPING_RETRY_AFTER_S = 5


class ServerStopping(RuntimeError):
    """The extension is stopping: its engine and thread pool take no more work, and
    a request that needs them is answered 503, not 500."""

    def __init__(self) -> None:
        super().__init__("the server is stopping; try again once it is back")


@dataclass
class ServerState:
    engine: Engine[EngineExecutor]
    identity: Identity
    limiter: RateLimiter
    pool: ThreadPoolExecutor
    max_json_bytes: int = 5_000_000
    #: Where the public pages are, under the base URL.
    public_path: str = SERVER_PUBLIC_PATH
    #: The hub's links, when the server runs under JupyterHub.
    hub_links: HubLinks | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: Set when the extension begins to stop.
    stopping: bool = False

    @property
    def max_upload_bytes(self) -> int:
        return self.engine.config.max_upload_bytes

    @property
    def service(self) -> JobService:
        return self.engine.service

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function`` on the pool; ``ServerStopping`` once the server is stopping
        (whatever the call then failed with: a closed pool, a closed store)."""
        if self.stopping:
            raise ServerStopping
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.pool, functools.partial(function, *args, **kwargs)
            )
        except Exception:
            if self.stopping:
                raise ServerStopping from None
            raise
