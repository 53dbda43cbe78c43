"""The Jupyter server extension: the HTTP face of the job service."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import ProteinIQApp

    return [{"module": "proteiniq_jupyter.server", "app": ProteinIQApp}]
