"""Who a request comes from, in the job system's terms.

Under JupyterHub (or with an identity provider trusted by configuration) the
Jupyter user's name is the person. A plain token-protected server has one person,
its owner, but Jupyter calls each browser an anonymous user with a random name:
there the configured user (or the operating-system user) is the person instead.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from collections.abc import Callable
from typing import Any

from ..jobs.access import Actor
from ..jobs.errors import NotFound
from ..jobs.service import JobService

#: Seconds a person's memberships, read for one request, serve their next ones.
FRESH_S = 0.5


def running_under_jupyterhub() -> bool:
    return bool(os.environ.get("JUPYTERHUB_API_TOKEN") and os.environ.get("JUPYTERHUB_USER"))


class Identity:
    def __init__(
        self,
        service: JobService,
        run: Callable[..., Any],
        *,
        trust_identity_provider: bool,
        user: str | None,
        email: str | None,
        workspace: str | None,
    ) -> None:
        self.service = service
        self.run = run
        self.trust_identity_provider = trust_identity_provider
        self.user = user or getpass.getuser()
        self.email = email
        self.workspace = workspace
        #: Each person's actor, and when their memberships were read for it.
        self._actors: dict[str, tuple[Actor, float]] = {}
        self._lock = asyncio.Lock()

    def username_for(self, jupyter_user: Any) -> str:
        if self.trust_identity_provider:
            return str(getattr(jupyter_user, "username", None) or jupyter_user)
        return self.user

    async def actor_for(self, jupyter_user: Any) -> Actor:
        """The actor of a request, its memberships read again once the last read is
        ``FRESH_S`` old: a member taken out of a team (or given another role)
        elsewhere is so within that time, and through this server at once
        (``forget``). A burst of requests (a notebook's calls, a panel's pages)
        reads them once."""
        username = self.username_for(jupyter_user)
        known = self._actors.get(username)
        if known is not None:
            cached, read_at = known
            if time.monotonic() - read_at < FRESH_S:
                return cached
            if cached.user is not None:
                fresh: Actor | None = await self.run(
                    self.service.acting, cached.user, self.workspace
                )
                if fresh is not None:
                    self._actors[username] = (fresh, time.monotonic())
                    return fresh
        actor: Actor
        async with self._lock:
            own = username == self.user
            email = self.email if own else _email_of(jupyter_user)
            try:
                # The configured workspace (a team's, on a JupyterHub deployment)
                # for everyone who is a member of it ...
                actor = await self.run(
                    self.service.sign_in, username, email=email, workspace_id=self.workspace
                )
            except NotFound:
                # ... and their own workspace for everyone else: the hub's engine
                # service may not have made them a member of their team yet.
                actor = await self.run(self.service.sign_in, username, email=email)
            self._actors[username] = (actor, time.monotonic())
        return actor

    def forget(self, username: str) -> None:
        """Read the person's memberships again at their next request (this server
        changed them)."""
        self._actors.pop(username, None)


def _email_of(jupyter_user: Any) -> str | None:
    email = getattr(jupyter_user, "email", None)
    return email if isinstance(email, str) and "@" in email else None
