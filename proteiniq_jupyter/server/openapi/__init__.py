"""The OpenAPI 3.1 document of the extension's HTTP API, and the route that serves it.

The paths are written here in Python, beside the routes, rather than generated
from them: generation would only repeat what the handlers do, mistakes included.
The schemas of the resources and request bodies come from their models in
``proteiniq_jupyter.api``, the same models the server renders and parses with.
The tests hold the document and the server together: every routed pattern must be
documented and every documented path routed, and a property-based run against the
real server checks each response's status, content type, headers and body against it.

Paths are written in full (``/proteiniq/api/v1/jobs``) and ``servers`` names the
Jupyter server's own base URL, taken from the request, so the public job pages
(outside the API prefix) fit in the same document and a generated client needs
no extra configuration behind a proxy or under JupyterHub.
"""

from __future__ import annotations

import json

from ... import __version__
from ..base import PiqHandler, authenticated
from ..routes import API
from .builders import JsonDict
from .components import headers, parameters, responses, schemas
from .paths import paths

OPENAPI_VERSION = "3.1.0"
#: The route of the document itself.
DOCUMENT_PATH = f"{API}/openapi.json"


def build_document(server_url: str) -> JsonDict:
    """The whole document, with ``server_url`` (the Jupyter server's base URL, no
    trailing slash) as its one server."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "ProteinIQ for Jupyter",
            "version": __version__,
            "description": (
                "Protein and molecule tools as tracked, shareable, credit-metered jobs. "
                "Shapes follow the ProteinIQ public API v1: resources carry an object "
                "field, lists are {object: list, data, has_more, next_cursor} with "
                "cursor pagination (starting_after, limit 1-100), errors are "
                "{error: {code, message, details}}. Authenticate as to the Jupyter "
                "server: Authorization: token <token>, the token query parameter, or "
                "the login cookie."
            ),
        },
        "servers": [{"url": server_url, "description": "this Jupyter server"}],
        "security": [{"JupyterToken": []}, {"JupyterTokenQuery": []}],
        "tags": [
            {"name": name}
            for name in (
                "meta",
                "account",
                "tools",
                "jobs",
                "sharing",
                "batches",
                "budgets",
                "workspaces",
                "events",
                "files",
                "public",
            )
        ],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "responses": responses(),
            "headers": headers(),
            "parameters": parameters(),
            "securitySchemes": {
                "JupyterToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "the Jupyter server's token, sent as: token <token>",
                },
                "JupyterTokenQuery": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": (
                        "the token as a query parameter; Jupyter reads it before the "
                        "header, so a wrong one fails a request whatever the header says"
                    ),
                },
            },
        },
    }


class OpenApiHandler(PiqHandler):
    """``GET {API}/openapi.json``: the document, naming this server as reached by
    the request (scheme, host and Jupyter base URL)."""

    @authenticated
    async def get(self) -> None:
        origin = f"{self.request.protocol}://{self.request.host}"
        self.send_json(json.dumps(build_document(origin + self.base_url.rstrip("/"))))


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [(DOCUMENT_PATH.replace(".", r"\."), OpenApiHandler)]
