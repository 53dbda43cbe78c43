"""Tools are found through the ``proteiniq_jupyter.tools`` entry-point group, so a
lab can add its own by installing a package that declares one."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from ..jobs.errors import NotFound
from .base import Tool

ENTRY_POINT_GROUP = "proteiniq_jupyter.tools"
log = logging.getLogger(__name__)


class ToolRegistry:
    """The tools this installation can run, by id."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.id in self._tools:
            raise ValueError(f"two tools share the id {tool.id!r}")
        self._tools[tool.id] = tool

    def get(self, tool_id: str) -> Tool:
        try:
            return self._tools[tool_id]
        except KeyError:
            raise NotFound(
                f"no tool {tool_id!r}; available: {', '.join(sorted(self._tools))}",
                details={"tool": tool_id},
            ) from None

    def __contains__(self, tool_id: object) -> bool:
        return tool_id in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(sorted(self._tools.values(), key=lambda t: (t.category, t.id)))

    def __len__(self) -> int:
        return len(self._tools)

    @classmethod
    def from_entry_points(cls) -> ToolRegistry:
        """Every installed tool. A tool whose module fails to import is skipped with a
        warning rather than taking the whole catalogue down."""
        registry = cls()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                tool_class = ep.load()
                registry.add(tool_class())
            except Exception:  # a broken plug-in must not break the others
                log.warning("could not load tool %r from %s", ep.name, ep.value, exc_info=True)
        return registry
