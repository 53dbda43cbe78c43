"""proteiniq-jupyter: protein and molecule tools as tracked jobs in Jupyter.

``import proteiniq_jupyter as piq`` gives the client's verbs (``piq.run``,
``piq.jobs`` ...), loaded on first use so that the server extension and the CLI
do not pay for them; ``%load_ext proteiniq_jupyter`` adds the ``%piq`` magics.
"""

import sys
from types import ModuleType
from typing import Any

from . import jobs as _jobs
from . import tools as _tools

__version__ = "0.1.0"

#: What ``piq.<name>`` reaches in the client: its ``__all__``, named here so that
#: importing the package does not import the client (a test holds the two equal).
_CLIENT = frozenset(
    {
        "Batch",
        "Client",
        "Connection",
        "ConnectionFailed",
        "Job",
        "JobFailed",
        "JobTable",
        "Output",
        "PiqError",
        "Quote",
        "ServerError",
        "account",
        "batch",
        "budget",
        "budgets",
        "connect",
        "connection",
        "credits",
        "files",
        "form",
        "job",
        "jobs",
        "quote",
        "run",
        "run_batch",
        "tool",
        "tools",
    }
)


class _Verb(ModuleType):
    """A subpackage whose name is also a verb of the client (``piq.jobs()``,
    ``piq.tools()``): calling the package calls the verb."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from . import client

        _widgets()  # what the verb gives shows as a widget, as every other verb's does
        return getattr(client, self.__name__.rpartition(".")[2])(*args, **kwargs)


_jobs.__class__ = _Verb
_tools.__class__ = _Verb


def _widgets() -> None:
    """Handles open the notebook widgets when asked (``job.view()``, ``piq.form()``);
    in a kernel, job handles and tables show as them."""
    from .client import display

    display.provide(_open_widget)
    if "ipykernel" in sys.modules:
        from . import widgets

        widgets.register()


def _open_widget(widget: str, *args: Any, **kwargs: Any) -> Any:
    from . import widgets

    return widgets.open_widget(widget, *args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _CLIENT:
        from . import client

        _widgets()
        return getattr(client, name)
    raise AttributeError(f"module 'proteiniq_jupyter' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_CLIENT})


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Jupyter finds the server extension through the package itself."""
    from .server import _jupyter_server_extension_points as points

    return points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built JupyterLab extension lies (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "@proteiniq/labextension"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext proteiniq_jupyter``: the ``%piq`` and ``%%piq`` magics."""
    from .magics import load

    _widgets()
    load(ipython)
