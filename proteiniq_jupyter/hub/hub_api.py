"""The hub's REST API, as the engine service reads it: its users, their groups
and (with the ``admin:auth_state`` scope) their auth state."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .teams import HubUser


class HubApi:
    def __init__(self, api_url: str, token: str) -> None:
        self._client = httpx.Client(
            base_url=api_url.rstrip("/") + "/",
            headers={"Authorization": f"token {token}"},
            timeout=30.0,
        )

    def users(self) -> list[HubUser]:
        models = self._get("users")
        users = []
        for model in models:
            if model.get("auth_state") is None:
                # The list leaves auth state out; one user's model has it, when
                # the service may read it.
                one = self._get(f"users/{quote(str(model['name']), safe='')}", missing_ok=True)
                model = one or model
            users.append(HubUser.from_model(model))
        return users

    def _get(self, path: str, *, missing_ok: bool = False) -> Any:
        response = self._client.get(path)
        if missing_ok and response.status_code in (403, 404):
            return None
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._client.close()
