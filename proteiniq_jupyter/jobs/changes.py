"""What the submitter (or a workspace admin) may do to a job: rename, delete,
cancel, run again as a new job, and share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .access import Actor
from .core import checked_name, derived_name, is_email
from .errors import Conflict, ValidationError
from .model import Job, JsonDict, Share, Visibility
from .ports import StoreTransaction
from .provenance import Derivation
from .status import RETRYABLE, JobStatus
from .submission import Limits, Submission


class Changes(Submission):
    def rename(self, actor: Actor, job_id: str, name: str) -> Job:
        name = checked_name(name)
        with self._write() as (tx, outbox):
            job = self._locked(tx, actor, job_id)
            now = self.clock()
            job = replace(job, name=name, updated_at=now)
            tx.update_job(job)
            outbox.events.append(tx.append_event(job, "renamed", {"name": name}, now))
        return job

    def delete(self, actor: Actor, job_id: str) -> None:
        """Remove the job, its event log, its invites and its files. A job still
        running must be cancelled first. Ledger entries stay: the ledger is the
        workspace's append-only account, and the balance must keep adding up."""
        with self._write() as (tx, outbox):
            job = self._changeable(tx, actor, job_id)
            if job.status.is_live:
                raise Conflict(
                    f"job {job_id} is {job.status}; cancel it before deleting it",
                    details={"current_status": str(job.status)},
                )
            tx.delete_job(job_id)
            outbox.after_commit.append(lambda: self.files.delete(job_id))

    def _locked(self, tx: StoreTransaction, actor: Actor, job_id: str) -> Job:
        """The job as it is now, held until the write commits: a change written
        from an earlier read would undo what a runner wrote in between."""
        self._changeable(tx, actor, job_id)
        return self._load(tx, job_id, for_update=True)

    def cancel(self, actor: Actor, job_id: str) -> Job:
        with self._write() as (tx, outbox):
            self._changeable(tx, actor, job_id)
            return self._cancel(tx, outbox, self._load(tx, job_id, for_update=True))

    def retry(self, actor: Actor, job_id: str) -> Job:
        """A failed, timed-out or cancelled job run again as a new job with the same
        inputs and settings, charged as usual."""
        with self.store.read() as tx:
            job = self._changeable(tx, actor, job_id)
        if job.status not in RETRYABLE:
            raise Conflict(
                f"job {job_id} is {job.status}; only FAILED, TIMEOUT or CANCELLED jobs "
                "can be retried",
                details={"current_status": str(job.status)},
            )
        return self._submit(
            actor,
            job.tool,
            job.inputs,
            job.settings,
            name=derived_name(job.name, "retry"),
            origin_job_id=job.id,
            derivation=Derivation.RETRY,
            limits=Limits(job.max_credits, job.budget_id),
        )

    def duplicate(
        self,
        actor: Actor,
        job_id: str,
        *,
        settings: JsonDict | None = None,
        name: str | None = None,
    ) -> Job:
        """A completed job run again as a new job, optionally with other settings:
        ``settings`` go over the job's, and a setting given as None goes back to the
        tool's default (as in a JSON merge patch)."""
        with self.store.read() as tx:
            job = self._changeable(tx, actor, job_id)
        if job.status is not JobStatus.COMPLETED:
            raise Conflict(
                f"job {job_id} is {job.status}; only COMPLETED jobs can be duplicated",
                details={"current_status": str(job.status)},
            )
        return self._submit(
            actor,
            job.tool,
            job.inputs,
            merged_settings(job.settings, settings or {}),
            name=name or derived_name(job.name, "copy"),
            origin_job_id=job.id,
            limits=Limits(job.max_credits, job.budget_id),
        )

    def get_share(self, actor: Actor, job_id: str) -> Share:
        with self.store.read() as tx:
            job = self._changeable(tx, actor, job_id)
            return Share(job.id, job.visibility, tuple(tx.list_invites(job_id)))

    def share(
        self,
        actor: Actor,
        job_id: str,
        visibility: Visibility | str,
        *,
        invite: Sequence[str] = (),
        uninvite: Sequence[str] = (),
    ) -> Share:
        """Set who may see the job. Invited emails add to the list; an email with no
        account yet stays pending until someone signs up with it."""
        try:
            visibility = Visibility(visibility)
        except ValueError:
            raise ValidationError(
                f"visibility must be one of {', '.join(v.value for v in Visibility)}",
                errors=[{"field": "visibility", "message": f"unknown value {visibility!r}"}],
            ) from None
        bad = [email for email in invite if not is_email(email)]
        if bad:
            raise ValidationError(
                f"not an email address: {', '.join(bad)}",
                errors=[{"field": "invite", "message": f"not an email address: {e}"} for e in bad],
            )
        with self._write() as (tx, outbox):
            job = self._locked(tx, actor, job_id)
            now = self.clock()
            current = {i.email for i in tx.list_invites(job_id)}
            emails = (current | {e.lower() for e in invite}) - {e.lower() for e in uninvite}
            tx.set_invites(job_id, sorted(emails), now)
            job = replace(job, visibility=visibility, updated_at=now)
            tx.update_job(job)
            invites = tuple(tx.list_invites(job_id))
            outbox.events.append(
                tx.append_event(
                    job,
                    "shared",
                    {"visibility": str(visibility), "invited": [i.email for i in invites]},
                    now,
                )
            )
        return Share(job.id, visibility, invites)


def merged_settings(settings: JsonDict, changes: JsonDict) -> JsonDict:
    """``changes`` over ``settings``; a None drops a setting the job has, so that the
    tool's default applies. A None for a name the job does not have stays, for the
    tool to refuse it by name."""
    merged = {**settings, **changes}
    return {k: v for k, v in merged.items() if not (v is None and k in changes and k in settings)}
