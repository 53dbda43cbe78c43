"""The command-line options that several commands share."""

from __future__ import annotations

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="Run here and wait, showing progress; exit 1 unless the job completes.",
)
set_option = click.option(
    "--set",
    "set_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting; VALUE is read as JSON when it parses, else as text.",
)
settings_json_option = click.option(
    "--settings-json", metavar="JSON", help="Settings as a JSON object (--set overrides)."
)
input_option = click.option(
    "--input",
    "-i",
    "input_pairs",
    multiple=True,
    metavar="SLOT=@FILE|SLOT=pdb:ID|SLOT=TEXT",
    help="An input item: a file (format from its extension), a PDB entry for a "
    "structure slot (fetched when the job is submitted), or literal text.",
)
inputs_argument = click.argument("inputs", nargs=-1, metavar="[INPUT]...")
max_credits_option = click.option(
    "--max-credits",
    "max_credits",
    type=click.IntRange(min=0),
    metavar="N",
    help="The most the job (each job, for a batch) may cost: refused when quoted above it; "
    "a tool billed by use stops there (BUDGET_EXCEEDED).",
)
budget_option = click.option(
    "--budget",
    metavar="NAME",
    help="Count the run against this open budget (see piq budget).",
)
