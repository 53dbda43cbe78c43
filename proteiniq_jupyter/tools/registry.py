"""Tools are found through the ``proteiniq_jupyter.tools`` entry-point group, so a
lab can add its own by installing a package that declares one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points

from ..jobs.errors import NotFound
from .base import Tool

ENTRY_POINT_GROUP = "proteiniq_jupyter.tools"
log = logging.getLogger(__name__)
#: The installed tools' entry points, as a worker's fork server found them when it
#: started (``remember_entry_points``); None: look them up on each call.
_remembered: tuple[EntryPoint, ...] | None = None


def _tool_entry_points() -> tuple[EntryPoint, ...]:
    if _remembered is not None:
        return _remembered
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def remember_entry_points() -> None:
    """Look up the installed tools once, for every process forked from this one:
    the lookup reads the metadata of every installed package (tens of milliseconds), which
    each job's process would otherwise do again before its tool could start. A
    fork server does this as it starts; its jobs see the tools installed then, as
    its worker does."""
    global _remembered
    _remembered = tuple(entry_points(group=ENTRY_POINT_GROUP))


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
    def from_entry_points(
        cls, extra: Iterable[str] = (), *, only: str | None = None
    ) -> ToolRegistry:
        """Every installed tool, plus ``extra`` tool classes named "module:Class".
        With ``only``, just that tool is loaded, for a job's own process: installed
        entry points are named by tool id, so only its module is imported. A tool
        that fails to import is skipped with a warning rather than taking the whole
        catalogue down."""
        registry = cls()
        loaders = [
            (ep.value, ep.load) for ep in _tool_entry_points() if only is None or ep.name == only
        ]
        loaders += [(spec, _importer(spec)) for spec in extra]
        for origin, load in loaders:
            try:
                tool = load()()
            except Exception:  # a broken plug-in must not break the others
                log.warning("could not load a tool from %s", origin, exc_info=True)
                continue
            if only is None or tool.id == only:
                registry.add(tool)
        return registry


def _importer(spec: str) -> Callable[[], type[Tool]]:
    module_name, _, class_name = spec.partition(":")

    def load() -> type[Tool]:
        if not class_name:
            raise ValueError(f"extra tool {spec!r} must be written module:Class")
        tool_class = getattr(import_module(module_name.strip()), class_name.strip())
        if not (isinstance(tool_class, type) and issubclass(tool_class, Tool)):
            raise TypeError(f"{spec} is not a Tool class")
        return tool_class

    return load
