"""Fixtures for the free tools' tests: the shared real-data files and input builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from proteiniq_jupyter.jobs.model import JobInput

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"

MakeInput = Callable[..., JobInput]


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real data files kept beside the repository (not copied into it)."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(
            f"shared fixtures folder {SHARED_FIXTURES.resolve()} is absent; it lies beside "
            "the repository in a full checkout"
        )
    return SHARED_FIXTURES.resolve()


@pytest.fixture
def make_input() -> MakeInput:
    def build(
        slot_id: str, kind: str, format: str, content: str, label: str | None = None
    ) -> JobInput:
        return JobInput(
            id=f"in_{slot_id}",
            slot_id=slot_id,
            kind=kind,
            format=format,
            content=content,
            label=label,
        )

    return build
