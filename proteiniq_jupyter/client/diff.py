"""Two jobs compared, as ``Job.diff`` gives it back: readable as text in a terminal,
as a table in a notebook, and as data."""

from __future__ import annotations

from html import escape
from typing import Any

from .. import api
from ..jobs.comparison import SECTIONS

_CELL = "text-align:left;padding:2px 8px;vertical-align:top"


def _value(value: Any) -> str:
    if value is None:
        return '<span style="opacity:0.6">-</span>'
    return f"<code>{escape(str(value))}</code>"


class JobDiff:
    """What differs between jobs ``a`` and ``b`` in inputs, settings and provenance."""

    def __init__(self, resource: api.JobDiff) -> None:
        self.resource = resource

    @property
    def a(self) -> str:
        return self.resource.a

    @property
    def b(self) -> str:
        return self.resource.b

    @property
    def same(self) -> bool:
        """True when nothing but the time of recording differs."""
        return self.resource.same

    @property
    def changes(self) -> list[api.JobChange]:
        return list(self.resource.changes)

    def section(self, name: str) -> dict[str, tuple[Any, Any]]:
        """The changed fields of one section (inputs, settings, provenance): name -> (a, b)."""
        return {c.field: (c.a, c.b) for c in self.resource.changes if c.section == name}

    def to_dict(self) -> dict[str, Any]:
        return self.resource.model_dump()

    def __str__(self) -> str:
        return self.resource.text()

    def __repr__(self) -> str:
        return self.resource.text()

    def _repr_html_(self) -> str:
        head = (
            f"<div><b>Job</b> <code>{escape(self.a)}</code> &rarr; "
            f"<code>{escape(self.b)}</code></div>"
        )
        rows = []
        for name in SECTIONS:
            changed = [c for c in self.resource.changes if c.section == name]
            if not changed and name != "tool":
                rows.append(
                    f'<tr><th style="{_CELL}">{name}</th><td style="{_CELL}" colspan="3">'
                    "<i>same</i></td></tr>"
                )
            for i, c in enumerate(changed):
                label = name if i == 0 else ""
                rows.append(
                    f'<tr><th style="{_CELL}">{label}</th><td style="{_CELL}">{escape(c.field)}'
                    f'</td><td style="{_CELL}">{_value(c.a)}</td>'
                    f'<td style="{_CELL}">{_value(c.b)}</td></tr>'
                )
        header = (
            f'<tr><th style="{_CELL}"></th><th style="{_CELL}">field</th>'
            f'<th style="{_CELL}">{escape(self.a)}</th>'
            f'<th style="{_CELL}">{escape(self.b)}</th></tr>'
        )
        return f'{head}<table class="piq-diff">{header}{"".join(rows)}</table>'
