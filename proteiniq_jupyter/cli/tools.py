"""``piq tools``: the tools this installation can run, and each one's inputs,
settings and outputs."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import api
from ..console import duration_text as _duration
from ..jobs.model import JsonDict
from .app import cli
from .engine import _engine
from .options import json_option
from .render import _echo_json, _pairs, _table


@cli.group("tools", invoke_without_command=True)
@json_option
@click.pass_context
def tools_group(ctx: click.Context, as_json: bool) -> None:
    """List the tools this installation can run."""
    if ctx.invoked_subcommand is not None:
        return
    with _engine() as engine:
        summaries = api.ToolList.of(engine.tools, engine.service.tool_availability).data
    if as_json:
        _echo_json([summary.model_dump() for summary in summaries])
        return
    rows = [
        [
            t.id,
            t.name,
            t.category,
            "free" if t.credit_model.is_free else t.credit_model.description,
            "yes" if t.availability.available else "no",
        ]
        for t in summaries
    ]
    click.echo(_table(["id", "name", "category", "credits", "available"], rows))
    missing = [t for t in summaries if not t.availability.available]
    for t in missing:
        click.echo(f"{t.id} cannot run: {t.availability.reason}", err=True)


@tools_group.command("show")
@click.argument("tool_id", metavar="ID")
@json_option
def tools_show(tool_id: str, as_json: bool) -> None:
    """A tool's inputs, settings (with defaults) and outputs."""
    with _engine() as engine:
        tool = engine.tools.get(tool_id)
        detail = api.ToolDetail.of(tool, engine.service.tool_availability(tool_id))
    if as_json:
        _echo_json(detail.model_dump())
        return
    credit = detail.credit_model
    out = [
        f"{detail.id}  {detail.name}",
        f"  {detail.description}",
        _pairs(
            [
                ("category", detail.category),
                ("credits", "free" if credit.is_free else credit.description),
                ("gpu", detail.processing.gpu),
                ("time limit", _duration(detail.processing.time_limit_s)),
                ("available", "yes" if detail.availability.available else "no"),
            ],
            "  ",
        ),
    ]
    if detail.availability.reason:
        out.append(f"  cannot run: {detail.availability.reason}")
    out.append("inputs")
    for slot in tool.slots:
        need = "required" if slot.required else "optional"
        out.append(
            f"  {slot.id}  {slot.kind}  {', '.join(slot.formats)}  {need}, "
            f"at most {slot.max_items}  {slot.label}"
        )
        if slot.description:
            out.append(f"      {slot.description}")
    out.append("settings")
    settings = _settings_rows(detail.input.settings)
    out.append(
        "\n".join(
            "  " + line
            for line in _table(["name", "type", "default", "about"], settings).splitlines()
        )
        if settings
        else "  -"
    )
    out.append("outputs")
    outputs = [[f.name, f.unit or "", f.description] for f in tool.outputs]
    out.append(
        "\n".join("  " + line for line in _table(["name", "unit", "about"], outputs).splitlines())
        if outputs
        else "  -"
    )
    if detail.limits:
        out.append("limits")
        out.append(_pairs(list(detail.limits.items()), "  "))
    click.echo("\n".join(out))


def _settings_rows(schema: JsonDict) -> list[list[Any]]:
    """One row per setting from the tool's JSON schema: name, type, default, and the
    description with its allowed values or bounds."""
    definitions = schema.get("$defs", {})
    rows: list[list[Any]] = []
    for name, prop in schema.get("properties", {}).items():
        if "$ref" in prop:
            prop = {**definitions.get(prop["$ref"].rsplit("/", 1)[-1], {}), **prop}
        variants = prop.get("anyOf") or [prop]
        types = [v.get("type", "") for v in variants if v.get("type")]
        about: list[str] = [prop.get("description", "")]
        choices = prop.get("enum")
        if choices:
            about.append(f"one of {', '.join(map(str, choices))}")
        bounds = [
            f"{symbol} {prop[key]}"
            for key, symbol in (
                ("minimum", ">="),
                ("exclusiveMinimum", ">"),
                ("maximum", "<="),
                ("exclusiveMaximum", "<"),
            )
            if key in prop
        ]
        if bounds:
            about.append(" and ".join(bounds))
        rows.append(
            [
                name,
                " | ".join(types) or "any",
                json.dumps(prop["default"]) if "default" in prop else "(required)",
                "; ".join(a for a in about if a),
            ]
        )
    return rows
