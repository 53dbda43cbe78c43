"""ShareDialog: who may see a job. Its visibility (private, invited, logged in,
public), the people invited by email (pending until they have an account), removing
an invitation, and the link to copy. Shown by ``job.share_dialog()`` and opened
from the job table's row menu.
"""

from __future__ import annotations

from typing import Any, Protocol

import traitlets

from .. import api
from ..client.transport import Transport
from ..jobs.errors import ValidationError
from ..jobs.model import Visibility
from .base import PiqWidget, action, dump


class Shared(Protocol):
    """What the dialog needs of a job handle (``client.handle.Job``, which opens it)."""

    _transport: Transport

    @property
    def id(self) -> str: ...
    @property
    def resource(self) -> api.Job: ...
    def refresh(self) -> Any: ...
    def link(self) -> str | None: ...
    def share(
        self,
        visibility: str | None = None,
        invite: list[str] | None = None,
        uninvite: list[str] | None = None,
    ) -> api.Share: ...


class ShareDialog(PiqWidget):
    bundle = "share_dialog"

    #: The job shared (``api.Job``).
    job = traitlets.Dict().tag(sync=True)
    #: Its sharing (``api.Share``).
    share = traitlets.Dict().tag(sync=True)
    #: What to copy: the public page when public, else the job's page in JupyterLab.
    link = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(self, job: Shared) -> None:
        self._job = job
        share = job.share()
        super().__init__(job=dump(job.resource), share=dump(share), link=_link(job, share))
        self.follow(job._transport.events, job.id)

    def _show(self, share: api.Share) -> api.Share:
        self.job, self.share, self.link = (
            dump(self._job.resource),
            dump(share),
            _link(self._job, share),
        )
        return share

    # -- what the dialog does -------------------------------------------------

    def set_visibility(self, visibility: str) -> api.Share:
        return self._show(self._job.share(str(_visibility(visibility))))

    def invite(self, *emails: str) -> api.Share:
        """Invite people by email; a private job becomes visible to those invited."""
        if not emails:
            raise ValidationError("name at least one email to invite")
        current = Visibility(self.share["visibility"])
        visibility = Visibility.INVITED if current is Visibility.PRIVATE else current
        return self._show(self._job.share(str(visibility), invite=list(emails)))

    def uninvite(self, email: str) -> api.Share:
        """Take back an invitation (pending or not)."""
        return self._show(self._job.share(str(self.share["visibility"]), uninvite=[email]))

    @action("visibility")
    def _visibility_action(self, visibility: str) -> dict[str, Any]:
        return {"share": dump(self.set_visibility(visibility))}

    @action("invite")
    def _invite_action(self, emails: list[str]) -> dict[str, Any]:
        if not isinstance(emails, list):
            raise ValidationError("emails must be a list of email addresses")
        return {"share": dump(self.invite(*[str(e) for e in emails]))}

    @action("uninvite")
    def _uninvite_action(self, email: str) -> dict[str, Any]:
        return {"share": dump(self.uninvite(str(email)))}

    # -- live -----------------------------------------------------------------

    def on_event(self, event: api.JobEvent) -> None:
        """Sharing changed elsewhere (the command line, the job table, a second
        dialog) or the job was renamed: show it."""
        if event.kind in ("shared", "renamed"):
            self.on_resync()

    def on_resync(self) -> None:
        self._job.refresh()
        self._show(self._job.share())


def _visibility(value: str) -> Visibility:
    try:
        return Visibility(value)
    except ValueError:
        known = ", ".join(v.value for v in Visibility)
        raise ValidationError(f"visibility must be one of {known}, not {value!r}") from None


def _link(job: Shared, share: api.Share) -> str | None:
    return share.public_url if share.public_url else job.link()
