"""The share dialog's model on both transports and both stores: visibility,
invitations (pending until the person has an account) and their removal reach the
store; a bad email is refused with its name and changes nothing; a change made
elsewhere shows in the dialog without a call."""

from __future__ import annotations

from proteiniq_jupyter.client import Client, Job
from proteiniq_jupyter.widgets import JobTable
from proteiniq_jupyter.widgets.share_dialog import ShareDialog

from .conftest import FrontEnd
from .forms_fixtures import eventually

NEWCOMER = "newcomer@example.org"


def finished_job(client: Client, name: str) -> Job:
    return client.run("protein-stats", "MKTAYIAKQR", name=name, new=True).wait(timeout=60)


def test_the_dialog_shows_who_may_see_the_job(front: FrontEnd, client: Client) -> None:
    job = finished_job(client, "to share")
    dialog = job.share_dialog()
    assert isinstance(dialog, ShareDialog)
    assert dialog.job["id"] == job.id and dialog.job["name"] == "to share"
    assert dialog.share == {
        "object": "share",
        "job_id": job.id,
        "visibility": "private",
        "invites": [],
        "public_url": None,
    }
    assert dialog.link == job.link()


def test_an_invite_shows_as_pending_and_reaches_the_store(front: FrontEnd, client: Client) -> None:
    job = finished_job(client, "invite someone")
    dialog = job.share_dialog()
    reply = front.act(dialog, "invite", emails=[NEWCOMER])
    assert reply["ok"] is True, reply
    assert dialog.share["invites"] == [{"email": NEWCOMER, "status": "pending"}]
    # Inviting someone to a private job lets the people invited see it.
    assert dialog.share["visibility"] == "invited"
    stored = client.job(job.id).share()
    assert [(i.email, i.status) for i in stored.invites] == [(NEWCOMER, "pending")]
    assert stored.visibility == "invited"
    reply = front.act(dialog, "uninvite", email=NEWCOMER)
    assert reply["ok"] is True and dialog.share["invites"] == []
    assert client.job(job.id).share().invites == []


def test_a_bad_email_is_named_and_changes_nothing(front: FrontEnd, client: Client) -> None:
    job = finished_job(client, "bad email")
    dialog = job.share_dialog()
    reply = front.act(dialog, "invite", emails=["not-an-email"])
    assert (reply["ok"], reply["error"]) == (False, "not an email address: not-an-email")
    assert dialog.share["invites"] == [] and dialog.share["visibility"] == "private"
    assert client.job(job.id).share().invites == []
    reply = front.act(dialog, "visibility", visibility="everyone")
    assert reply["ok"] is False and "visibility must be one of" in reply["error"]
    assert client.job(job.id).share().visibility == "private"


def test_visibility_and_the_link_to_copy(front: FrontEnd, client: Client) -> None:
    job = finished_job(client, "made public")
    dialog = job.share_dialog()
    reply = front.act(dialog, "visibility", visibility="public")
    assert reply["ok"] is True and dialog.share["visibility"] == "public"
    assert client.job(job.id).resource.visibility == "public"
    if client.connection.transport == "http":
        # The public page, which opens without logging in.
        assert dialog.link == dialog.share["public_url"] and job.id in dialog.link
    front.act(dialog, "visibility", visibility="logged_in")
    assert client.job(job.id).resource.visibility == "logged_in"
    assert dialog.link == job.link()


def test_a_change_made_elsewhere_shows_without_a_call(front: FrontEnd, client: Client) -> None:
    job = finished_job(client, "shared elsewhere")
    dialog = job.share_dialog()
    client.job(job.id).share("invited", invite=["colleague@example.org"])
    eventually(
        lambda: (
            dialog.share["invites"] == [{"email": "colleague@example.org", "status": "pending"}]
        ),
        "the dialog shows the invitation made by another handle",
    )
    assert dialog.share["visibility"] == "invited"


def test_the_job_tables_row_menu_reads_and_changes_the_sharing(
    front: FrontEnd, client: Client
) -> None:
    job = finished_job(client, "shared from the table")
    table = JobTable.of(client.jobs(search="shared from the table"))
    opened = front.act(table, "share", job=job.id)
    assert opened["ok"] is True and opened["share"]["visibility"] == "private"
    assert opened["link"] == job.link()
    invited = front.act(table, "share", job=job.id, invite=[NEWCOMER])
    assert invited["ok"] is True
    assert invited["share"]["invites"] == [{"email": NEWCOMER, "status": "pending"}]
    assert [(i.email, i.status) for i in client.job(job.id).share().invites] == [
        (NEWCOMER, "pending")
    ]
    removed = front.act(table, "share", job=job.id, uninvite=[NEWCOMER])
    assert removed["ok"] is True and removed["share"]["invites"] == []
    assert client.job(job.id).share().invites == []
