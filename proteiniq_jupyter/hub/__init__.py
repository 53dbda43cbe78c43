"""Running on JupyterHub: the engine service's part (teams from hub groups, emails
from auth state or the administrator's list) and the single-user servers' part
(``configure_spawner``, for ``c.Spawner.pre_spawn_hook``)."""

from .spawner import configure_spawner
from .teams import HubUser, team_workspace_id

__all__ = ["HubUser", "configure_spawner", "team_workspace_id"]
