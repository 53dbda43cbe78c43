# JupyterHub with proteiniq-jupyter for a team: one engine service runs every
# user's jobs from the team's PostgreSQL on Dask, and serves public job pages at
# {hub}/services/proteiniq/public/jobs/{id}; single-user servers submit to the
# same store and run nothing themselves.
#
# Start it with `jupyterhub -f deploy/jupyterhub_config.py`. Each setting below
# reads an environment variable first, so the file serves as it is.
import os

from proteiniq_jupyter.hub import configure_spawner

c = get_config()  # noqa: F821 (JupyterHub's configuration)

# The hub's public address: where links sent to colleagues lead.
HUB_URL = os.environ.get("PIQ_HUB_URL", "http://127.0.0.1:8000")
# The team's job store, and a data directory every server and worker can read
# (on one machine a local folder; across machines a shared file system).
DATABASE_URL = os.environ.get("PIQ_DATABASE_URL", "postgresql://piq@127.0.0.1:5432/piq")
DATA_DIR = os.environ.get("PIQ_DATA_DIR", "/srv/proteiniq")
# A remote Dask scheduler with GPU workers; empty: a cluster embedded in the
# service on the hub machine, started with the first job.
DASK_SCHEDULER = os.environ.get("PIQ_DASK_SCHEDULER_ADDRESS", "")

c.JupyterHub.bind_url = HUB_URL

# Who may sign in. Replace with your authenticator (OAuthenticator, LDAP, ...);
# one that keeps the user's email in its auth state needs
# c.Authenticator.enable_auth_state = True (and JUPYTERHUB_CRYPT_KEY set).
c.JupyterHub.authenticator_class = os.environ.get("PIQ_HUB_AUTHENTICATOR", "dummy")
c.Authenticator.allow_all = True

# Teams are hub groups: each group is a workspace whose users are members.
# `{"lab-admins": "lab:admin"}` in PIQ_HUB_GROUP_ROLES makes lab-admins' users
# admins of lab. Emails an authenticator does not give: PIQ_HUB_EMAILS, a JSON
# object {"user": "email"} or the path of a file holding one.
c.JupyterHub.load_groups = {
    "lab": {"users": ["alice", "bob"]},
}

SHARED = {
    "PIQ_DATABASE_URL": DATABASE_URL,
    "PIQ_DATA_DIR": DATA_DIR,
    "PIQ_HUB_URL": HUB_URL,
}

# The engine service: the hub starts it, restarts it, and routes
# /services/proteiniq/ to it.
c.JupyterHub.services = [
    {
        "name": "proteiniq",
        "command": ["python", "-m", "proteiniq_jupyter.hub_service"],
        "url": os.environ.get("PIQ_SERVICE_URL", "http://127.0.0.1:10101"),
        "environment": {
            **SHARED,
            "PIQ_DASK_SCHEDULER_ADDRESS": DASK_SCHEDULER,
            "PIQ_HUB_EMAILS": os.environ.get("PIQ_HUB_EMAILS", ""),
            "PIQ_HUB_GROUP_ROLES": os.environ.get("PIQ_HUB_GROUP_ROLES", ""),
        },
        "oauth_no_confirm": True,
    }
]
# What the service may read from the hub: users, their groups and auth state.
c.JupyterHub.load_roles = [
    {
        "name": "proteiniq-service",
        "scopes": ["list:users", "read:users", "read:groups", "admin:auth_state"],
        "services": ["proteiniq"],
    }
]

# Single-user servers: the shared store, no engine of their own, and each
# person's name, email and team from the hub (configure_spawner).
c.Spawner.environment = {**SHARED, "PIQ_EXECUTOR": "service"}
c.Spawner.pre_spawn_hook = configure_spawner
c.Spawner.default_url = "/lab"
