"""A quote as people read it: the same lines for ``piq quote`` at a terminal and for
``piq.quote()`` / ``%piq quote`` in a notebook, where it also shows as a table."""

from __future__ import annotations

from html import escape
from typing import Any

from . import api
from .api.workspace import QuoteLine


def quote_pairs(quote: api.JobQuote, jobs: int = 1) -> list[tuple[str, str]]:
    """The quote's facts, as (label, value), in the order they are shown."""
    pairs = [("tool", quote.tool)]
    if jobs > 1:
        pairs.append(("jobs", f"{jobs}, one per item (piq batch run)"))
    pairs.append(("estimated credits", str(quote.estimated_credits)))
    if quote.billing.mode == "usage":
        pairs.append(("billing", "by use, the estimate being the least"))
    if quote.max_credits is not None:
        pairs.append(("max credits", str(quote.max_credits)))
    if quote.budget is not None:
        budget = quote.budget
        pairs.append(
            ("budget", f"{budget.name}: {budget.remaining} of {budget.credits} credits left")
        )
    pairs.append(("available credits", str(quote.available_credits)))
    pairs.append(("billable credits", str(quote.billable_credits)))
    return pairs


def _breakdown(line: QuoteLine) -> str:
    return f"{line.label}: {line.quantity:g} x {line.unit_credits} = {line.credits}"


def _blocking(error: dict[str, Any]) -> str:
    return str(error.get("message", error))


def quote_text(quote: api.JobQuote, jobs: int = 1) -> str:
    """The quote as ``piq quote`` prints it."""
    pairs = quote_pairs(quote, jobs)
    width = max(len(label) for label, _ in pairs)
    out = [f"{label.ljust(width)}  {value}".rstrip() for label, value in pairs]
    if quote.breakdown:
        out.append("breakdown")
        out.extend(f"  {_breakdown(line)}" for line in quote.breakdown)
    if quote.blocking_errors:
        out.append("cannot run")
        out.extend(f"  {_blocking(error)}" for error in quote.blocking_errors)
    return "\n".join(out)


def quote_html(quote: api.JobQuote) -> str:
    """The quote as a notebook shows it: the same facts, the breakdown, and what
    stops the run in red."""
    cell = "text-align:left;padding:1px 1em 1px 0"
    rows = [
        f'<tr><th style="{cell}">{escape(label)}</th><td style="{cell}">{escape(value)}</td></tr>'
        for label, value in quote_pairs(quote)
    ]
    parts = [f'<div class="piq-quote"><table>{"".join(rows)}</table>']
    if quote.breakdown:
        items = "".join(f"<li>{escape(_breakdown(line))}</li>" for line in quote.breakdown)
        parts.append(f"<div>Breakdown</div><ul>{items}</ul>")
    if quote.blocking_errors:
        items = "".join(f"<li>{escape(_blocking(e))}</li>" for e in quote.blocking_errors)
        parts.append(f'<div style="color:#c62828">Cannot run<ul>{items}</ul></div>')
    return "".join(parts) + "</div>"


class Quote(api.JobQuote):
    """What ``piq.quote()`` returns: the API's quote, shown as ``piq quote`` shows it
    (a table in a notebook, its lines in a terminal)."""

    @classmethod
    def shown(cls, quote: api.JobQuote) -> Quote:
        return cls.model_construct(_fields_set=quote.model_fields_set, **dict(quote))

    def __str__(self) -> str:
        return quote_text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(quote_text(self))

    def _repr_html_(self) -> str:
        return quote_html(self)
