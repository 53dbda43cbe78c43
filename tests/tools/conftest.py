"""Fixtures for the tools' tests: the real data files and input builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from proteiniq_jupyter.jobs.model import JobInput
from tests.conftest import FIXTURES

MakeInput = Callable[..., JobInput]


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real data files kept with the tests (tests/data; sources and licences in
    its README.md)."""
    return FIXTURES


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
