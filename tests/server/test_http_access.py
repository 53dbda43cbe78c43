"""The access matrix of tests/test_access.py again, over HTTP: {submitter,
teammate, user of another workspace, anonymous} x {private, public, logged_in,
invited and signed up, invited and pending} x {see the row, see the contents,
change}, every cell asserted against the same table.

Over HTTP the people are: alice, who submits (she owns the workspace); tim, her
teammate (a plain member, added before the server started); olga, who has a
workspace of her own and is the one invited; and a request with no token. The API
answers an anonymous request 401 whatever the job; what anonymous visitors may
see, they see through the public job page, which is where this test looks."""

from __future__ import annotations

from typing import Any

import pytest

from ..test_access import ACTORS, EXPECTED, SHARES
from .conftest import BASE_URL, Api, PiqServer, Reply

PEOPLE = {"submitter": "alice", "teammate": "tim", "outsider": "olga", "anonymous": None}


def public_page(job_id: str) -> str:
    return f"{BASE_URL}proteiniq/public/jobs/{job_id}?format=json"


def not_found(reply: Reply, job_id: str) -> None:
    """The answer for a job that does not exist, whether or not it does."""
    assert reply.status == 404, reply.body
    error = reply.error
    assert error["code"] == "not_found"
    assert error["message"] == f"no job {job_id}"


def unauthorized(reply: Reply) -> None:
    assert reply.status == 401, reply.body
    assert reply.error["code"] == "unauthorized"


async def shared_job(submitter: Api, share: str) -> dict[str, Any]:
    job = await submitter.run(f"{share} data", name=share)
    assert job["status"] == "COMPLETED"
    if share == "invited_signed_up":
        body: dict[str, Any] = {"visibility": "invited", "invite": ["Olga@Elsewhere.example"]}
    elif share == "invited_pending":
        body = {"visibility": "invited", "invite": ["pending@elsewhere.example"]}
    else:
        body = {"visibility": share}
    reply = await submitter.put(f"jobs/{job['id']}/share", body)
    assert reply.status == 200, reply.body
    invites = [invite["status"] for invite in reply.json["invites"]]
    assert invites == {"invited_signed_up": ["active"], "invited_pending": ["pending"]}.get(
        share, []
    )
    return job


async def observed(api: Api, job_id: str) -> tuple[bool, bool, bool]:
    """(see the row, see the contents, change) for one signed-in person."""
    reply = await api.get(f"jobs/{job_id}")
    if reply.status == 200:
        see_row = True
        job = reply.json
        contents = "input" in job and job["result"] is not None
        assert job["permissions"]["see_contents"] == contents
        if not contents:
            assert {"input", "settings", "result", "error"}.isdisjoint(job)
    else:
        not_found(reply, job_id)
        see_row = contents = False
    # contents: the result and the export answer only those who may see them
    result = await api.get(f"results/{job_id}")
    export = await api.get(f"jobs/{job_id}/export", params={"format": "csv"})
    if result.status == 200:
        assert export.status == 200, export.body
        assert result.json["results"]["fields"]["echo"].endswith(" data")
        assert export.text.startswith("job_id,")
        via_result = True
    else:
        not_found(result, job_id)
        not_found(export, job_id)
        via_result = False
    assert via_result == contents
    # change: renaming; a visible job answers forbidden, an invisible one not found
    renamed = await api.patch(f"jobs/{job_id}", {"name": "renamed by someone"})
    if renamed.status == 200:
        assert renamed.json["name"] == "renamed by someone"
        change = True
    elif renamed.status == 403:
        assert renamed.error["code"] == "forbidden"
        assert see_row, "forbidden must not reveal a job the actor cannot see"
        change = False
    else:
        not_found(renamed, job_id)
        assert not see_row
        change = False
    return see_row, contents, change


async def observed_anonymously(piq: PiqServer, job_id: str) -> tuple[bool, bool, bool]:
    """The same three cells for a visitor with no token: every API route says 401;
    the public page shows the job (row and contents) or says it does not exist."""
    anonymous = piq.api(None)
    unauthorized(await anonymous.get(f"jobs/{job_id}"))
    unauthorized(await anonymous.get(f"results/{job_id}"))
    unauthorized(await anonymous.get(f"jobs/{job_id}/export", params={"format": "csv"}))
    unauthorized(await anonymous.patch(f"jobs/{job_id}", {"name": "renamed by nobody"}))
    page = await anonymous.fetch_path(public_page(job_id))
    if page.status == 200:
        job = page.json
        assert job["id"] == job_id
        assert job["input"]["inputs"][0]["content"].endswith(" data")
        assert job["result"]["results"]["fields"]["echo"].endswith(" data")
        return True, True, False
    not_found(page, job_id)
    return False, False, False


@pytest.mark.parametrize("share", SHARES)
async def test_access_matrix_over_http(piq: PiqServer, share: str) -> None:
    apis = {name: piq.api(user) for name, user in PEOPLE.items()}
    # olga has used this deployment before: an invite to her email is active
    assert (await apis["outsider"].get("account")).status == 200
    job = await shared_job(apis["submitter"], share)
    for actor in ACTORS:
        if actor == "anonymous":
            got = await observed_anonymously(piq, job["id"])
        else:
            got = await observed(apis[actor], job["id"])
        assert got == EXPECTED[actor][share], f"{actor} on {share}: {got}"


async def test_every_change_follows_the_same_rule(piq: PiqServer, alice: Api) -> None:
    job = await alice.run("shared data")
    await alice.put(f"jobs/{job['id']}/share", {"visibility": "public"})
    failed = await alice.run("x", settings={"outcome": "error"})
    assert failed["status"] == "FAILED"
    for name in ("teammate", "outsider", "anonymous"):
        api = piq.api(PEOPLE[name])
        attempts = [
            await api.put(f"jobs/{job['id']}/share", {"visibility": "private"}),
            await api.delete(f"jobs/{job['id']}"),
            await api.post(f"jobs/{job['id']}/duplicate"),
            await api.post(f"jobs/{job['id']}/cancel"),
        ]
        retry = await api.post(f"jobs/{failed['id']}/retry")
        if name == "anonymous":
            for reply in [*attempts, retry]:
                unauthorized(reply)
            continue
        for reply in attempts:
            assert reply.status == 403, (name, reply.body)
            assert reply.error["code"] == "forbidden"
        if name == "teammate":
            assert retry.status == 403 and retry.error["code"] == "forbidden"
        else:  # the failed job is private: an outsider sees nothing
            not_found(retry, failed["id"])
    after = (await alice.get(f"jobs/{job['id']}")).json
    assert (after["visibility"], after["name"]) == ("public", job["name"])


async def test_the_workspace_owner_manages_members_jobs(alice: Api, tim: Api) -> None:
    job = await tim.run("tim's private data", name="tim's job")
    seen = await alice.get(f"jobs/{job['id']}")
    assert seen.status == 200
    assert seen.json["permissions"] == {"see_contents": False, "change": True}
    assert "input" not in seen.json and "result" not in seen.json
    assert seen.json["submitter"]["username"] == "tim"
    not_found(await alice.get(f"results/{job['id']}"), job["id"])
    renamed = await alice.patch(f"jobs/{job['id']}", {"name": "tidied by the owner"})
    assert renamed.status == 200 and renamed.json["name"] == "tidied by the owner"
    assert (await alice.delete(f"jobs/{job['id']}")).status == 200
    not_found(await tim.get(f"jobs/{job['id']}"), job["id"])


async def test_pending_invite_becomes_active_on_sign_up(piq: PiqServer, alice: Api) -> None:
    job = await shared_job(alice, "invited_pending")
    petra = piq.api("petra")  # signs up with pending@elsewhere.example on her first request
    assert (await petra.get(f"jobs/{job['id']}")).status == 200
    share = (await alice.get(f"jobs/{job['id']}/share")).json
    assert share["invites"] == [{"email": "pending@elsewhere.example", "status": "active"}]
    assert await observed(petra, job["id"]) == (True, True, False)
    # taking the invite back removes access again
    await alice.put(
        f"jobs/{job['id']}/share",
        {"visibility": "invited", "uninvite": ["pending@elsewhere.example"]},
    )
    not_found(await petra.get(f"jobs/{job['id']}"), job["id"])


async def test_public_jobs_are_not_in_other_workspaces_histories(
    piq: PiqServer, alice: Api
) -> None:
    """Sharing opens a job to those with its link; it does not list it elsewhere."""
    job = await alice.run("public data")
    await alice.put(f"jobs/{job['id']}/share", {"visibility": "public"})
    olga = piq.api("olga")
    assert (await olga.get(f"jobs/{job['id']}")).status == 200
    assert (await olga.get("jobs")).json["data"] == []
    assert [j["id"] for j in (await piq.api("tim").get("jobs")).json["data"]] == [job["id"]]
    # and a job made by someone else never lands in the submitter's workspace
    theirs = await olga.submit("olga's")
    not_found(await alice.get(f"jobs/{theirs['id']}"), theirs["id"])
