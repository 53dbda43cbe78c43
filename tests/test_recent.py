"""The bounded map of recent results that the Vina receptor check and the PDB fetch
share: a value is made once per key while it stays among the most recent."""

from __future__ import annotations

import pytest

from proteiniq_jupyter.recent import Recent


def test_values_are_made_once_and_the_least_recent_goes_first() -> None:
    made: list[str] = []

    def maker(key: str) -> str:
        made.append(key)
        return key.upper()

    recent: Recent[str, str] = Recent(2)
    assert recent.get_or_make("a", lambda: maker("a")) == "A"
    assert recent.get_or_make("b", lambda: maker("b")) == "B"
    assert recent.get_or_make("a", lambda: maker("a")) == "A"  # kept; now the most recent
    recent.get_or_make("c", lambda: maker("c"))  # "b" was the least recent: it goes
    recent.get_or_make("a", lambda: maker("a"))
    recent.get_or_make("b", lambda: maker("b"))
    assert made == ["a", "b", "c", "b"]


def test_a_failure_is_not_kept() -> None:
    recent: Recent[str, str] = Recent(2)
    calls = 0

    def failing() -> str:
        nonlocal calls
        calls += 1
        raise ValueError("broken")

    for _ in range(2):
        with pytest.raises(ValueError, match="broken"):
            recent.get_or_make("x", failing)
    assert calls == 2
