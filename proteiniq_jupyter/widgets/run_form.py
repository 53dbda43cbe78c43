"""RunForm: a tool's run as a form, built from its input slots and the JSON schema
of its settings, with the cost on its Run button.

The form's values (``{"inputs": {slot: text}, "settings": {...}, "name": ...}``) are
quoted again whenever they change (the view debounces typing), so the cost, its
breakdown, the balance and every blocking error show before anything is submitted.
Submitting runs the tool through the client; the job handle is ``form.job`` and the
view follows the job live.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import traitlets

from .. import api
from ..client.handle import Job
from ..client.session import Client, default_client
from ..jobs.errors import ValidationError
from .base import PiqWidget, action, dump, error_message

EMPTY_VALUES: dict[str, Any] = {"inputs": {}, "settings": {}, "name": ""}


class RunForm(PiqWidget):
    bundle = "run_form"

    #: The tool as the catalogue details it (``api.ToolDetail``).
    tool = traitlets.Dict().tag(sync=True)
    #: What the form holds: each slot's text, the settings given, the job's name.
    values = traitlets.Dict(EMPTY_VALUES).tag(sync=True)
    #: The quote of ``values`` (``api.JobQuote``); None before the first.
    quote = traitlets.Union([traitlets.Dict()], default_value=None, allow_none=True).tag(sync=True)
    #: What stopped the last quote or submission (the client's message).
    error = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    #: "quoting" or "submitting" while the kernel works on it.
    busy = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    #: The job the form submitted (``api.Job``), kept live.
    submitted = traitlets.Union([traitlets.Dict()], default_value=None, allow_none=True).tag(
        sync=True
    )
    #: The job's page in JupyterLab, when there is a server.
    link = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(
        self,
        tool_id: str,
        *,
        name: str | None = None,
        client: Client | None = None,
        **given: Any,
    ) -> None:
        self._client = client or default_client()
        detail = self._client.tool(tool_id)
        self.job: Job | None = None
        self._quote_lock = threading.Lock()
        values = _values(detail, given, name)
        # Quoted before the widget opens, so its first state (and a saved
        # notebook) shows the cost.
        quote, error = self._quoted(tool_id, values)
        super().__init__(tool=dump(detail), values=values, quote=quote, error=error)
        self.observe(self._on_values, names="values")

    @property
    def tool_id(self) -> str:
        return str(self.tool["id"])

    # -- quoting --------------------------------------------------------------

    def _on_values(self, change: Mapping[str, Any]) -> None:
        self.requote()

    def _quoted(
        self, tool_id: str, values: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The quote of ``values`` as the trait carries it, or what refused it."""
        try:
            return dump(self._client.quote(tool_id, **_arguments(values))), None
        except Exception as exc:
            return None, error_message(exc)

    def requote(self) -> api.JobQuote | None:
        """Quote the values the form holds now (the cost, its breakdown, the
        balance and what blocks the run); None when the request itself is refused."""
        with self._quote_lock:
            values = self.values
            self.busy = "quoting"
            try:
                quote = self._client.quote(self.tool_id, **_arguments(values))
            except Exception as exc:
                if values is self.values:
                    self.quote, self.error = None, error_message(exc)
                return None
            finally:
                self.busy = None
            if values is self.values:  # not overtaken by newer values
                self.quote, self.error = dump(quote), None
            return quote

    # -- submitting -----------------------------------------------------------

    def submit(self) -> Job:
        """Run the tool with the form's values; gives the job handle (also
        ``form.job``). Blocking errors refuse it before anything is created."""
        quote = self.requote()
        if quote is None:
            raise ValidationError(self.error or "the form's request was refused")
        if quote.blocking_errors:
            messages = "; ".join(str(e.get("message")) for e in quote.blocking_errors)
            raise ValidationError(messages, errors=list(quote.blocking_errors))
        name = str(self.values.get("name") or "").strip() or None
        self.busy = "submitting"
        try:
            job = self._client.run(self.tool_id, name=name, new=True, **_arguments(self.values))
        finally:
            self.busy = None
        self.job = job
        self.link = job.link()
        # Following first, then reading: a job that ended before the form followed
        # it (a quick one) shows so from the read, a later event from the feed.
        self.follow(self._client.transport.events, job.id)
        self.submitted = dump(job.resource if job.status.is_terminal else job.refresh().resource)
        return job

    @action("submit")
    def _submit_action(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        if values is not None:
            self.values = _checked(values)
        try:
            job = self.submit()
        except Exception as exc:
            self.error = error_message(exc)
            raise
        return {"job": dump(job.resource)}

    @action("cancel")
    def _cancel_action(self) -> dict[str, Any]:
        if self.job is None:
            raise ValidationError("nothing was submitted to cancel")
        self.submitted = dump(self.job.cancel().resource)
        return {"job": self.submitted}

    # -- live -----------------------------------------------------------------

    def on_event(self, event: api.JobEvent) -> None:
        if self.job is not None and event.job_id == self.job.id:
            self.job._apply(event)
            if event.status.is_terminal:
                self.job.refresh()
            self.submitted = dump(self.job.resource)

    def on_resync(self) -> None:
        if self.job is not None:
            self.submitted = dump(self.job.refresh().resource)


def _values(detail: api.ToolDetail, given: Mapping[str, Any], name: str | None) -> dict[str, Any]:
    """The form's values from keywords naming the tool's slots and settings."""
    slots = {slot.id for slot in detail.input.slots}
    settings: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    known = detail.input.settings.get("properties", {})
    for key, value in given.items():
        if key in slots:
            inputs[key] = value if isinstance(value, str) else str(value)
        elif key in known:
            settings[key] = value
        else:
            choices = ", ".join([*sorted(slots), *known])
            raise ValidationError(f"{detail.id} has no input or setting {key!r}; it has {choices}")
    return {"inputs": inputs, "settings": settings, "name": name or ""}


def _checked(values: Any) -> dict[str, Any]:
    """Values as the view sends them, or a clear refusal."""
    if not isinstance(values, dict):
        raise ValidationError("the form's values must be an object")
    inputs, settings = values.get("inputs", {}), values.get("settings", {})
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise ValidationError("the form's inputs must be text, one per slot")
    if not isinstance(settings, dict):
        raise ValidationError("the form's settings must be an object")
    return {"inputs": inputs, "settings": settings, "name": str(values.get("name") or "")}


def _arguments(values: Mapping[str, Any]) -> dict[str, Any]:
    """The client's keywords for the values: slots with text, settings given."""
    inputs = {k: v for k, v in values.get("inputs", {}).items() if str(v).strip()}
    return {**inputs, **values.get("settings", {})}
