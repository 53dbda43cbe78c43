"""The API answers a fixed script of requests exactly as it answered when the script
was recorded: status, content type and body, byte for byte once the values that
differ on every run are replaced: random ids numbered in the order they first
appear, clock times, durations, paging cursors, and the machine and versions a
job's provenance names, by a label each.

A change to any resource's shape, key order, number format or error text fails
here. A change meant to alter a response re-records the file with
``PIQ_RECORD_RESPONSES=1 pytest tests/server/test_recorded_responses.py`` and is
reviewed in the diff of ``tests/data/api_responses.json``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Api, PiqServer, Reply, job_body

RECORDING = Path(__file__).resolve().parents[1] / "data" / "api_responses.json"

#: Values that differ on every run: ids (numbered by kind), and those replaced by
#: one label of ``_UNNUMBERED``.
_VOLATILE = (
    (re.compile(r"\b(job|usr|ws|file|batch|grant|bdg)_[0-9a-f]{32}\b"), None),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)?"), "time"),
    (re.compile(r'"next_cursor": "[A-Za-z0-9_\-]+"'), "cursor"),
    (re.compile(r'"duration_s": [0-9.e\-]+'), "duration"),
    # A job's provenance names the machine that ran it and the versions installed there.
    (re.compile(r'"worker": \{[^{}]*\}'), "worker"),
    (re.compile(r'"software": \[[^\[\]]*\]'), "software"),
)
_UNNUMBERED = {
    "time": "<time>",
    "cursor": '"next_cursor": "<cursor>"',
    "duration": '"duration_s": "<duration>"',
    "worker": '"worker": "<worker>"',
    "software": '"software": "<software>"',
}


class Normaliser:
    """Numbers each id in order of first appearance, so that the same id is the
    same label throughout the script; times, durations and cursors become one
    label each."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        for pattern, label in _VOLATILE:
            text = pattern.sub(lambda m, label=label: self._label(m, label), text)
        return text

    def _label(self, match: re.Match[str], label: str | None) -> str:
        value = match.group(0)
        if label is not None:
            # Clock times, durations and cursors are not numbered: two times that
            # fall in the same second would otherwise share a label by chance.
            return _UNNUMBERED[label]
        if value not in self.labels:
            kind = match.group(1)
            count = sum(1 for v in self.labels.values() if v.startswith(f"<{kind}#"))
            self.labels[value] = f"<{kind}#{count + 1}>"
        return self.labels[value]


class Script:
    """Sends requests and keeps each answer, normalised. Jobs that a request
    dispatches are held until its answer is in, so that no answer depends on how
    far a job got meanwhile."""

    def __init__(self, server: PiqServer) -> None:
        self.normalise = Normaliser()
        self.answers: list[dict[str, Any]] = []
        self.executor = server.state.engine.executor
        self.dispatch = self.executor.submit
        self.held: list[str] = []
        self.executor.submit = self.held.append

    async def send(self, api: Api, label: str, method: str, path: str, **kwargs: Any) -> Reply:
        reply = await api.request(method, path, **kwargs)
        held, self.held[:] = list(self.held), []
        for job_id in held:
            self.dispatch(job_id)
        self.answers.append(
            {
                "request": label,
                "status": reply.status,
                "content_type": reply.headers.get("Content-Type", ""),
                "location": self.normalise(reply.headers.get("Location", "")),
                "body": self.normalise(reply.body.decode("utf-8", errors="replace")),
            }
        )
        return reply


async def _run_script(piq: PiqServer, alice: Api, tim: Api, bob: Api) -> list[dict[str, Any]]:
    s = Script(piq)
    await s.send(alice, "account", "GET", "account")
    await s.send(alice, "tools", "GET", "tools")
    await s.send(alice, "one tool", "GET", "tools/echo")
    await s.send(alice, "unknown tool", "GET", "tools/nope")
    await s.send(alice, "quote", "POST", "jobs/quote", body=job_body("hello world"))
    await s.send(
        alice, "quote, bad input", "POST", "jobs/quote", body=job_body("hello!", tool="echo")
    )
    await s.send(alice, "quote, unknown tool", "POST", "jobs/quote", body=job_body("x", tool="no"))
    lacking = job_body("x", tool="weights-echo")
    await s.send(alice, "quote, tool cannot run here", "POST", "jobs/quote", body=lacking)
    await s.send(alice, "submit, tool cannot run here", "POST", "jobs", body=lacking)
    await s.send(alice, "submit, not JSON", "POST", "jobs", raw="{", headers=_json())
    await s.send(alice, "submit, no inputs", "POST", "jobs", body={"tool": "echo"})
    await s.send(
        alice,
        "submit, bad settings",
        "POST",
        "jobs",
        body=job_body("hello", settings={"repeat": 99}),
    )
    first = await s.send(
        alice,
        "submit",
        "POST",
        "jobs",
        body=job_body("hello world", name="first", settings={"repeat": 2}),
        headers={"Idempotency-Key": "key-1"},
    )
    job_id = first.json["id"]
    await alice.wait(job_id)
    await s.send(
        alice,
        "submit, replayed",
        "POST",
        "jobs",
        body=job_body("hello world", name="first", settings={"repeat": 2}),
        headers={"Idempotency-Key": "key-1"},
    )
    await s.send(
        alice,
        "submit, same key other request",
        "POST",
        "jobs",
        body=job_body("other text"),
        headers={"Idempotency-Key": "key-1"},
    )
    failing = await s.send(
        alice, "submit, fails", "POST", "jobs", body=job_body("boom", settings={"outcome": "error"})
    )
    await alice.wait(failing.json["id"])
    await s.send(alice, "job", "GET", f"jobs/{job_id}")
    await s.send(alice, "failed job", "GET", f"jobs/{failing.json['id']}")
    await s.send(tim, "job, teammate", "GET", f"jobs/{job_id}")
    await s.send(bob, "job, stranger", "GET", f"jobs/{job_id}")
    await s.send(alice, "status", "GET", f"jobs/{job_id}/status")
    await s.send(alice, "result", "GET", f"results/{job_id}")
    await s.send(alice, "export json", "GET", f"jobs/{job_id}/export")
    await s.send(alice, "export csv", "GET", f"jobs/{job_id}/export", params={"format": "csv"})
    await s.send(alice, "output file", "GET", f"jobs/{job_id}/files/echo.txt")
    await s.send(alice, "rename", "PATCH", f"jobs/{job_id}", body={"name": "renamed"})
    await s.send(alice, "rename, other field", "PATCH", f"jobs/{job_id}", body={"tool": "x"})
    await s.send(alice, "share, read", "GET", f"jobs/{job_id}/share")
    await s.send(
        alice,
        "share, invite",
        "PUT",
        f"jobs/{job_id}/share",
        body={"visibility": "invited", "invite": ["bob@other.example", "new@lab.example"]},
    )
    await s.send(
        alice, "share, public", "PUT", f"jobs/{job_id}/share", body={"visibility": "public"}
    )
    await s.send(
        alice, "share, bad visibility", "PUT", f"jobs/{job_id}/share", body={"visibility": "all"}
    )
    duplicate = await s.send(
        alice, "duplicate", "POST", f"jobs/{job_id}/duplicate", body={"settings": {"repeat": 3}}
    )
    await alice.wait(duplicate.json["id"])
    retried = await s.send(alice, "retry", "POST", f"jobs/{failing.json['id']}/retry")
    await alice.wait(retried.json["id"])
    await s.send(alice, "retry, completed job", "POST", f"jobs/{job_id}/retry")
    await s.send(alice, "cancel, finished job", "POST", f"jobs/{job_id}/cancel")
    await s.send(alice, "jobs", "GET", "jobs")
    await s.send(alice, "jobs, a page", "GET", "jobs", params={"limit": "2"})
    await s.send(alice, "jobs, failed", "GET", "jobs", params={"status": "FAILED"})
    await s.send(alice, "jobs, by name", "GET", "jobs", params={"q": "renamed"})
    await s.send(alice, "jobs, bad status", "GET", "jobs", params={"status": "DONE"})
    await s.send(alice, "jobs, bad cursor", "GET", "jobs", params={"starting_after": "zz"})
    await s.send(alice, "jobs, bad limit", "GET", "jobs", params={"limit": "1000"})
    await s.send(tim, "jobs, teammate", "GET", "jobs")
    upload = await s.send(
        alice,
        "upload",
        "POST",
        "files",
        raw="hello from a file",
        params={"name": "note.txt"},
        headers={"Content-Type": "application/octet-stream"},
    )
    await s.send(alice, "files", "GET", "files")
    await s.send(alice, "file preview", "GET", f"files/{upload.json['id']}", params={"preview": 1})
    await s.send(alice, "file", "GET", f"files/{upload.json['id']}")
    await s.send(
        alice,
        "submit from a file",
        "POST",
        "jobs",
        body={
            "tool": "echo",
            "input": {
                "inputs": [
                    {
                        "slotId": "text",
                        "content": "",
                        "source": {"type": "file", "file_id": upload.json["id"]},
                    }
                ]
            },
        },
    )
    from_file = await s.send(
        alice,
        "submit from a file, as text",
        "POST",
        "jobs",
        body={
            "tool": "echo",
            "input": {
                "inputs": [
                    {
                        "slotId": "text",
                        "format": "text",
                        "content": "",
                        "source": {"type": "file", "file_id": upload.json["id"]},
                    }
                ]
            },
        },
    )
    await alice.wait(from_file.json["id"])
    await s.send(alice, "delete file", "DELETE", f"files/{upload.json['id']}")
    batch = await s.send(
        alice,
        "batch",
        "POST",
        "batches",
        body={
            "tool": "echo",
            "name": "three",
            "items": [job_body(t)["input"] and {"input": job_body(t)["input"]} for t in "abc"],
        },
    )
    batch_id = batch.json["id"]
    for child in (await alice.get("jobs", params={"batch": batch_id})).json["data"]:
        await alice.wait(child["id"])
    await s.send(alice, "batch, read", "GET", f"batches/{batch_id}")
    await s.send(alice, "batches", "GET", "batches")
    await s.send(alice, "batch, bad items", "POST", "batches", body={"tool": "echo", "items": []})
    await s.send(alice, "batch retry-failed", "POST", f"batches/{batch_id}/retry-failed")
    await s.send(alice, "delete", "DELETE", f"jobs/{failing.json['id']}")
    await s.send(alice, "deleted job", "GET", f"jobs/{failing.json['id']}")
    await s.send(alice, "account after", "GET", "account")
    await _budgets(s, alice, tim)
    return s.answers


async def _budgets(s: Any, alice: Api, tim: Api) -> None:
    """Caps and budgets: refusals, a budget's use, the account listing it."""
    capped = {**job_body("hello world"), "max_credits": 19}
    await s.send(alice, "quote, over its cap", "POST", "jobs/quote", body=capped)
    await s.send(alice, "submit, over its cap", "POST", "jobs", body=capped)
    await s.send(alice, "submit, bad cap", "POST", "jobs", body={**capped, "max_credits": -1})
    opened = await s.send(
        alice, "open budget", "POST", "budgets", body={"name": "screen", "credits": 30}
    )
    under = {**job_body("hello world"), "budget": "screen"}
    job = await s.send(alice, "submit under a budget", "POST", "jobs", body=under)
    await alice.wait(job.json["id"])
    await s.send(tim, "submit, budget spent", "POST", "jobs", body=under)
    await s.send(alice, "quote, budget spent", "POST", "jobs/quote", body=under)
    await s.send(alice, "submit, no such budget", "POST", "jobs", body={**under, "budget": "x"})
    await s.send(alice, "budget", "GET", f"budgets/{opened.json['id']}")
    await s.send(alice, "budgets", "GET", "budgets")
    await s.send(tim, "close budget, not theirs", "POST", "budgets/screen/close")
    await s.send(
        alice, "notebook default", "PUT", "budgets/notebook-default", body={"credits": 100}
    )
    await s.send(alice, "account with a budget", "GET", "account")
    await s.send(alice, "close budget", "POST", "budgets/screen/close")


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


#: What the tools that cannot run here are told, so that the reasons the catalogue
#: gives are the same on every machine.
_NOT_HERE = {
    "PIQ_ESMFOLD_MODEL": "/nonexistent/esmfold-model",
    "PIQ_COLABFOLD_BIN": "/nonexistent/colabfold_batch",
    "PIQ_BOLTZ_BIN": "/nonexistent/boltz",
}


async def test_responses_match_the_recording(
    piq: PiqServer, alice: Api, tim: Api, bob: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _NOT_HERE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PIQ_TEST_WEIGHTS", raising=False)
    answers = await _run_script(piq, alice, tim, bob)
    if os.environ.get("PIQ_RECORD_RESPONSES"):
        RECORDING.write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n")
    recorded = json.loads(RECORDING.read_text())
    assert [a["request"] for a in answers] == [r["request"] for r in recorded]
    for answer, expected in zip(answers, recorded, strict=True):
        assert answer == expected, answer["request"]
