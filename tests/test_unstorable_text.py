"""Text that a database or a file system cannot hold is refused by the service
the same way on both databases, whoever calls it (the server, the CLI, a kernel
in-process), and a value that reaches the store anyway is an input error, never
a server fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.core import ServiceConfig
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.ports import FileFilter, JobFilter
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from .conftest import text_input

NUL = "a\x00b"
SURROGATE = "a\udc80b"


def fields(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [e.get("field") for e in error.value.errors]


@pytest.mark.parametrize("text", [NUL, SURROGATE])
def test_names_and_searches_with_unstorable_text_are_refused(
    service: JobService, alice: Actor, text: str
) -> None:
    with pytest.raises(ValidationError) as submitted:
        service.submit(alice, "echo", [text_input("hello")], name=text)
    assert fields(submitted) == ["name"]
    with pytest.raises(ValidationError) as keyed:
        service.submit(alice, "echo", [text_input("hello")], idempotency_key=text)
    assert fields(keyed) == ["Idempotency-Key"]
    job = service.submit(alice, "echo", [text_input("hello")], name="kept")
    with pytest.raises(ValidationError):
        service.rename(alice, job.id, text)
    assert service.get(alice, job.id).job.name == "kept"
    with pytest.raises(ValidationError) as searched:
        service.list_jobs(alice, JobFilter(name_contains=text))
    assert fields(searched) == ["q"]
    with pytest.raises(ValidationError) as filtered:
        service.list_files(alice, FileFilter(format=text))
    assert fields(filtered) == ["format"]
    with pytest.raises(ValidationError):
        service.share(alice, job.id, "invited", invite=[f"{text}@lab.example"])
    with pytest.raises(ValidationError):
        service.sign_in(f"user{text}")
    with pytest.raises(ValidationError):
        service.add_member(alice, "tim", Role.MEMBER, email=f"tim{text}@lab.example")


def test_an_upload_name_is_counted_in_bytes_and_a_refusal_leaves_nothing(
    service: JobService, alice: Actor, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"  # beside the service's job files
    for name in ("é" * 128, f"x{NUL}.txt", "line\nbreak.txt"):
        with pytest.raises(ValidationError) as refused:
            service.upload_file(alice, name, b"content")
        assert fields(refused) == ["name"]
    assert not uploads.exists() or not any(uploads.iterdir())
    record = service.upload_file(alice, "é" * 126 + ".a", b"content")
    assert len(record.name.encode()) == 254
    assert [p.name for p in uploads.iterdir()] == [record.id]


def test_a_value_the_database_cannot_hold_is_an_input_error(
    store: SqlStore, service: JobService, alice: Actor, backend: str
) -> None:
    """Below every check of the service: PostgreSQL's text holds no NUL and its
    columns have lengths; SQLite holds both. Either way no server fault."""
    workspace_id = alice.workspace_id
    assert workspace_id is not None

    def search() -> list[Any]:
        with store.read() as tx:
            return tx.list_jobs(workspace_id, JobFilter(name_contains=NUL), None, 10)

    if backend == "postgresql":
        with pytest.raises(ValidationError, match=r"cannot be stored: .*NUL"):
            search()
    else:
        assert search() == []
    with store.read() as tx:  # the store is usable after the refusal
        assert tx.get_user_by_email("alice@lab.example") is not None


def test_a_name_the_file_system_cannot_hold_is_refused_and_leaves_nothing(
    store: SqlStore, tools: ToolRegistry, tmp_path: Path
) -> None:
    """A data folder deep enough that a name within 255 bytes makes a path longer
    than the system takes (4096 bytes on Linux): the name is refused, not a fault."""
    deep = tmp_path
    while len(str(deep).encode()) < 3_700:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    service = JobService(store, tools, DirectoryJobFiles(deep / "files"), config=ServiceConfig())
    alice = service.sign_in("alice", email="alice@lab.example")
    with pytest.raises(ValidationError) as refused:
        service.upload_file(alice, "n" * 250 + ".txt", b"content")
    assert fields(refused) == ["name"]
    uploads = deep / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert service.list_files(alice) == ([], None)
    saved = service.upload_file(alice, "short.txt", b"content")
    assert [p.name for p in uploads.iterdir()] == [saved.id]
