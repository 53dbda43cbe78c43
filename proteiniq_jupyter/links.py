"""Where a job's links lead. On one server: that server's JupyterLab and its public
page. Under JupyterHub: the hub's ``user-redirect``, which opens the job in the
JupyterLab of whoever follows the link, and the engine service's public page,
which stays up while every user's server is stopped.

The hub's public address comes from ``PIQ_HUB_URL`` (else JupyterHub's
``JUPYTERHUB_PUBLIC_URL``); without either, links are paths on the hub's host."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

#: The service's name in ``c.JupyterHub.services`` (its URL prefix).
HUB_SERVICE_ENV = "PIQ_HUB_SERVICE"
DEFAULT_HUB_SERVICE = "proteiniq"
HUB_URL_ENV = "PIQ_HUB_URL"
#: Where the engine service serves public pages, under its prefix.
SERVICE_PUBLIC_PATH = "public/jobs"
#: Where a single server serves them, under its base URL.
SERVER_PUBLIC_PATH = "proteiniq/public/jobs"


@dataclass(frozen=True)
class HubLinks:
    """Links on a JupyterHub deployment: ``origin`` (scheme and host, or empty)
    and the hub's ``base_url``."""

    origin: str
    base_url: str
    service: str = DEFAULT_HUB_SERVICE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubLinks | None:
        """The hub's links, when this process runs under JupyterHub (a single-user
        server, its kernels, or a service); None otherwise."""
        env = os.environ if env is None else env
        base_url = env.get("JUPYTERHUB_BASE_URL")
        if not base_url:
            return None
        origin = env.get(HUB_URL_ENV) or env.get("JUPYTERHUB_PUBLIC_URL") or ""
        origin = origin.rstrip("/")
        if origin.endswith(base_url.rstrip("/")) and base_url.strip("/"):
            origin = origin[: -len(base_url.rstrip("/"))]  # a URL with the base in it
        base_url = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
        return cls(origin, base_url, env.get(HUB_SERVICE_ENV) or DEFAULT_HUB_SERVICE)

    def lab(self, job_id: str) -> str:
        return f"{self.origin}{self.base_url}hub/user-redirect/lab?jobId={quote(job_id)}"

    def public(self, job_id: str) -> str:
        return (
            f"{self.origin}{self.base_url}services/{quote(self.service)}/"
            f"{SERVICE_PUBLIC_PATH}/{quote(job_id)}"
        )
