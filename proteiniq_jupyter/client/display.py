"""How the client's objects show themselves in a notebook: as a richer view when one
is registered (the notebook widgets register theirs, see ``proteiniq_jupyter.widgets``),
otherwise as the HTML summary. Where no widget can render (a plain terminal, a
front end without widgets) the summary is what shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from .. import api

#: What a view is made for: a job handle shown, a job being waited on, a job table,
#: a batch.
Kind = Literal["job", "wait", "jobs", "batch"]


class View(Protocol):
    def _repr_mimebundle_(self, **kwargs: Any) -> Any: ...


class LiveView(View, Protocol):
    def show(self, resource: api.Job) -> None:
        """Show the job as ``resource`` has it (its final state, after a wait)."""
        ...


_factories: dict[str, Callable[[Any], View | None]] = {}


def register(kind: Kind, factory: Callable[[Any], View | None]) -> None:
    """Let ``factory`` make the notebook view of ``kind`` (it may give None)."""
    _factories[kind] = factory


def view(kind: Kind, shown: Any) -> View | None:
    factory = _factories.get(kind)
    return None if factory is None else factory(shown)


def mimebundle(kind: Kind, shown: Any, html: str, text: str) -> dict[str, Any]:
    """The display data of ``shown``: its view's with the HTML summary and the text
    beside it (front ends that cannot render the view pick those)."""
    return with_summary(view(kind, shown), html, text)


def with_summary(made: View | None, html: str, text: str) -> dict[str, Any]:
    """The display data of the view ``made`` (if any) with the HTML summary and the
    text beside it."""
    data: dict[str, Any] = {"text/html": html, "text/plain": text}
    if made is not None:
        bundle = made._repr_mimebundle_()
        widget_data = bundle[0] if isinstance(bundle, tuple) else bundle
        data.update({k: v for k, v in widget_data.items() if k != "text/plain"})
    return data


#: The widgets a handle opens when asked (``job.view()``, ``job.detail()``,
#: ``job.share_dialog()``, ``piq.form()``, ``batch.view()``).
Widget = Literal["structure", "detail", "share", "form", "batch"]

_opener: Callable[..., Any] | None = None


def provide(opener: Callable[..., Any]) -> None:
    """Let ``opener(widget, *args, **kwargs)`` make the widgets handles open (the
    widgets package, which builds on the client, so the client cannot import it)."""
    global _opener
    _opener = opener


def open_widget(widget: Widget, *args: Any, **kwargs: Any) -> Any:
    if _opener is None:
        raise RuntimeError(
            f"the {widget} widget needs the notebook widgets: import proteiniq_jupyter as piq "
            "(or proteiniq_jupyter.widgets) first"
        )
    return _opener(widget, *args, **kwargs)
