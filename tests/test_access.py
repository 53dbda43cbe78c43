"""The access matrix: {submitter, teammate, user of another workspace, anonymous} x
{private, public, logged_in, invited and signed up, invited and pending} x {see the
row, see the contents, change}, every cell asserted through the service."""

from __future__ import annotations

from dataclasses import replace

import pytest

from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.access import Actor, Permissions, needs_invite_lookup
from proteiniq_jupyter.jobs.errors import Forbidden, NotFound, ValidationError
from proteiniq_jupyter.jobs.model import Role, Visibility

from .conftest import text_input

ACTORS = ("submitter", "teammate", "outsider", "anonymous")
SHARES = ("private", "public", "logged_in", "invited_signed_up", "invited_pending")
Y, N = True, False

# (see row, see contents, change) for each actor and share
EXPECTED = {
    "submitter": {s: (Y, Y, Y) for s in SHARES},
    "teammate": {
        "private": (Y, N, N),
        "public": (Y, Y, N),
        "logged_in": (Y, Y, N),
        "invited_signed_up": (Y, N, N),
        "invited_pending": (Y, N, N),
    },
    "outsider": {
        "private": (N, N, N),
        "public": (Y, Y, N),
        "logged_in": (Y, Y, N),
        "invited_signed_up": (Y, Y, N),
        "invited_pending": (N, N, N),
    },
    "anonymous": {
        "private": (N, N, N),
        "public": (Y, Y, N),
        "logged_in": (N, N, N),
        "invited_signed_up": (N, N, N),
        "invited_pending": (N, N, N),
    },
}


@pytest.fixture
def people(service, alice):
    """Alice owns the workspace; Sam is a member who submits; Tim is a teammate;
    Olga is in another workspace (and is the one invited); nobody has signed up
    with pending@elsewhere.example yet."""
    service.add_member(alice, "sam", Role.MEMBER, email="sam@lab.example")
    service.add_member(alice, "tim", Role.MEMBER, email="tim@lab.example")
    return {
        "submitter": service.sign_in("sam", workspace_id=alice.workspace_id),
        "teammate": service.sign_in("tim", workspace_id=alice.workspace_id),
        "outsider": service.sign_in("olga", email="olga@elsewhere.example"),
        "anonymous": Actor.anonymous(),
    }


def shared_job(service, tools, submitter, share):
    job = service.submit(submitter, "echo", [text_input(f"{share} data")], name=share)
    run_job(service.runs, tools, job.id)
    if share == "invited_signed_up":
        service.share(submitter, job.id, "invited", invite=["Olga@Elsewhere.example"])
    elif share == "invited_pending":
        service.share(submitter, job.id, "invited", invite=["pending@elsewhere.example"])
    elif share != "private":
        service.share(submitter, job.id, share)
    return job


def observed(service, actor, job_id):
    try:
        view = service.get(actor, job_id)
    except NotFound:
        see_row = False
        contents = False
    else:
        see_row = True
        contents = bool(view.job.inputs) and view.job.result is not None
        assert view.permissions.see_contents == contents
    # contents: the result and the export answer only those who may see them
    try:
        service.result(actor, job_id)
        service.export(actor, job_id, "csv")
        via_result = True
    except NotFound:
        via_result = False
    assert via_result == contents
    # change: renaming; a visible job answers forbidden, an invisible one not found
    try:
        service.rename(actor, job_id, "renamed by someone")
        change = True
    except Forbidden:
        assert see_row, "forbidden must not reveal a job the actor cannot see"
        change = False
    except NotFound:
        assert not see_row
        change = False
    return see_row, contents, change


@pytest.mark.parametrize("share", SHARES)
def test_access_matrix(service, tools, people, share):
    job = shared_job(service, tools, people["submitter"], share)
    for actor_name in ACTORS:
        got = observed(service, people[actor_name], job.id)
        assert got == EXPECTED[actor_name][share], f"{actor_name} on {share}: {got}"


def test_every_change_follows_the_same_rule(service, tools, people):
    job = shared_job(service, tools, people["submitter"], "public")
    failed = service.submit(people["submitter"], "echo", [text_input("x")], {"outcome": "error"})
    run_job(service.runs, tools, failed.id)
    for name in ("teammate", "outsider", "anonymous"):
        actor = people[name]
        with pytest.raises(Forbidden):
            service.share(actor, job.id, "private")
        with pytest.raises(Forbidden):
            service.delete(actor, job.id)
        with pytest.raises(Forbidden):
            service.duplicate(actor, job.id)
        with pytest.raises(Forbidden if name == "teammate" else NotFound):
            service.retry(actor, failed.id)  # failed job is private: outsiders see nothing
    assert service.get(people["submitter"], job.id).job.visibility.value == "public"


def test_workspace_admins_may_change_members_jobs(service, tools, alice, people):
    job = shared_job(service, tools, people["submitter"], "private")
    # the owner sees the row and may manage the job, but not read private contents
    assert service.get(alice, job.id).permissions == Permissions(True, False, True)
    service.rename(alice, job.id, "tidied by the owner")
    service.delete(alice, job.id)


def test_pending_invite_becomes_active_on_sign_up(service, tools, people):
    job = shared_job(service, tools, people["submitter"], "invited_pending")
    share = service.get_share(people["submitter"], job.id)
    assert [(i.email, i.pending) for i in share.invites] == [("pending@elsewhere.example", True)]
    newcomer = service.sign_in("petra", email="Pending@Elsewhere.example")
    share = service.get_share(people["submitter"], job.id)
    assert [(i.email, i.pending) for i in share.invites] == [("pending@elsewhere.example", False)]
    assert observed(service, newcomer, job.id)[:2] == (True, True)
    # taking the invite back removes access again
    service.share(people["submitter"], job.id, "invited", uninvite=["pending@elsewhere.example"])
    with pytest.raises(NotFound):
        service.get(newcomer, job.id)


def test_viewers_cannot_run_jobs(service, alice):
    service.add_member(alice, "vera", Role.VIEWER)
    vera = service.sign_in("vera", workspace_id=alice.workspace_id)
    with pytest.raises(Forbidden):
        service.submit(vera, "echo", [text_input("hello")])
    with pytest.raises(Forbidden):
        service.submit(Actor.anonymous(), "echo", [text_input("hello")])


def test_admins_cannot_promote(service, alice):
    service.add_member(alice, "ada", Role.ADMIN)
    ada = service.sign_in("ada", workspace_id=alice.workspace_id)
    with pytest.raises(Forbidden):
        service.add_member(ada, "eve", Role.OWNER)
    service.add_member(ada, "eve", Role.MEMBER)
    assert {m.user.username: m.role for m in service.members(alice)} == {
        "alice": Role.OWNER,
        "ada": Role.ADMIN,
        "eve": Role.MEMBER,
    }


def test_bad_share_requests(service, people):
    job = service.submit(people["submitter"], "echo", [text_input("x")])
    with pytest.raises(ValidationError, match="visibility"):
        service.share(people["submitter"], job.id, "everyone")
    with pytest.raises(ValidationError, match="not-an-email"):
        service.share(people["submitter"], job.id, "invited", invite=["not-an-email"])


def test_first_sign_ins_racing_make_one_user(service):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        actors = list(pool.map(lambda _: service.sign_in("zoe"), range(8)))
    assert len({a.user_id for a in actors}) == 1
    assert len({a.workspace_id for a in actors}) == 1
    assert service.account(actors[0]).available_credits == 500


def test_an_email_belongs_to_one_user(service, alice):
    from proteiniq_jupyter.jobs.errors import Conflict

    with pytest.raises(Conflict, match="another user"):
        service.sign_in("mallory", email="ALICE@lab.example")
    with pytest.raises(ValidationError):
        service.sign_in("mallory", email="not an email")
    assert service.sign_in("alice", email="alice@lab.example").user_id == alice.user_id


def test_the_invite_list_is_read_only_for_an_invited_job_and_a_reader_with_an_email(
    service, alice, people
):
    """Whether the rule needs the invite list: only when the job is shared by
    invitation and the reader has an email that could be on it."""
    job = service.submit(alice, "echo", [text_input("x")])
    reader = people["outsider"]
    assert reader.email == "olga@elsewhere.example"
    for visibility in Visibility:
        shared = replace(job, visibility=visibility)
        assert needs_invite_lookup(reader, shared) is (visibility is Visibility.INVITED)
        assert needs_invite_lookup(Actor.anonymous(), shared) is False
