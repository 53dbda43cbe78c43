"""The engine service of a JupyterHub deployment (``python -m
proteiniq_jupyter.hub_service``, declared in ``c.JupyterHub.services`` and
started by the hub): it runs every user's jobs from the team's store on Dask,
serves the public job pages at ``{hub}/services/proteiniq/public/jobs/{id}``
without a login (up while every user's server is stopped), and keeps users,
emails and teams in line with the hub's users and groups.

It is a Jupyter server with only this package's extension, on the address and
prefix the hub gives it; its API answers no one (its token is never handed
out), so only the public pages are open."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from urllib.parse import urlsplit

from tornado.ioloop import PeriodicCallback
from traitlets.config import Config

from .hub.hub_api import HubApi
from .hub.teams import EMAILS_ENV, GROUP_ROLES_ENV, group_roles, read_json_setting, sync
from .links import SERVICE_PUBLIC_PATH

log = logging.getLogger("proteiniq.hub_service")
#: Seconds between two looks at the hub's users and groups.
SYNC_INTERVAL_ENV = "PIQ_HUB_SYNC_INTERVAL"
DEFAULT_SYNC_INTERVAL_S = 30.0


def server_config(service_url: str, prefix: str) -> Config:
    """The Jupyter server of the service: on the hub's address and prefix for it,
    this extension alone, running every user's jobs on Dask."""
    address = urlsplit(service_url)
    return Config(
        {
            "ServerApp": {
                "ip": address.hostname or "127.0.0.1",
                "port": address.port or 80,
                "port_retries": 0,
                "base_url": prefix,
                "open_browser": False,
                # the hub may run its services as root; nothing here runs user code
                "allow_root": True,
                "jpserver_extensions": {"proteiniq_jupyter": True},
            },
            "IdentityProvider": {"token": secrets.token_urlsafe(32)},
            "ProteinIQApp": {
                "executor": "dask",
                "public_path": SERVICE_PUBLIC_PATH,
                "trust_identity_provider": False,
            },
        }
    )


def main() -> None:
    from jupyter_server.serverapp import ServerApp

    logging.basicConfig(level=logging.INFO)
    env = os.environ
    missing = [n for n in ("JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_API_TOKEN") if not env.get(n)]
    if missing:
        sys.exit(
            f"proteiniq hub service: {', '.join(missing)} not set; JupyterHub sets them "
            "for a managed service (c.JupyterHub.services with a command)"
        )
    os.environ["PIQ_RUN_JOBS_OF"] = "everyone"
    os.environ.setdefault("PIQ_USER", env.get("JUPYTERHUB_SERVICE_NAME") or "proteiniq-service")
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or "/services/proteiniq/"
    try:
        emails = read_json_setting(EMAILS_ENV)
        roles = group_roles(read_json_setting(GROUP_ROLES_ENV))
        interval_s = float(env.get(SYNC_INTERVAL_ENV) or DEFAULT_SYNC_INTERVAL_S)
    except (OSError, ValueError) as exc:
        sys.exit(f"proteiniq hub service: {exc}")
    app = ServerApp.instance(config=server_config(env["JUPYTERHUB_SERVICE_URL"], prefix))
    app.initialize(argv=[], find_extensions=False)
    state = app.web_app.settings["proteiniq"]
    hub = HubApi(
        env.get("JUPYTERHUB_API_URL") or "http://127.0.0.1:8081/hub/api",
        env["JUPYTERHUB_API_TOKEN"],
    )

    def look_at_the_hub() -> None:
        try:
            found = sync(state.service, hub.users(), emails=emails, roles=roles)
        except Exception:
            log.exception("reading the hub's users and groups failed; trying again later")
            return
        log.debug("teams from the hub: %s", found)

    async def sync_now() -> None:
        await state.run(look_at_the_hub)

    app.io_loop.add_callback(sync_now)
    PeriodicCallback(sync_now, interval_s * 1000).start()
    log.info("proteiniq hub service: public job pages at %s%s/", prefix, SERVICE_PUBLIC_PATH)
    app.start()


if __name__ == "__main__":
    main()
