"""``%piq`` and ``%%piq``: the client's verbs as one line of a notebook.

Thin over the client: each subcommand parses its words and calls one verb. Every
refusal is one readable line (a ``UsageError``), never a traceback.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from .client import Client, Job, JobFailed, PiqError
from .client.session import default_client

HELP = """\
%piq run TOOL [INPUT] [--SLOT VALUE] [--SETTING VALUE] [--name NAME] [--new] [--no-wait]
          [--max-credits N] [--budget NAME]
%%piq run TOOL [...]      the cell is the main input (FASTA, SMILES one per line ...)
%%piq batch TOOL [--new]  one job per line of the cell
%piq quote TOOL [INPUT] [--SLOT VALUE] [--SETTING VALUE] [--max-credits N]
%piq budget N [--name NAME]   bound what this notebook's runs may spend to N credits
%piq form TOOL [--SLOT VALUE] [--SETTING VALUE] [--name NAME]   the run form, with its cost
%piq jobs [--tool T] [--status S] [--search TEXT] [--mine] [--limit N]
          [--sort COLUMN] [--order asc|desc]   sorted across the whole history
%piq show ID | %piq cancel ID | %piq share ID --visibility V [--invite EMAIL]
%piq tools | %piq credits | %piq help
A rerun of the same run or batch from the same notebook attaches to what it made;
--new submits again."""
#: Options that take no value.
FLAGS = frozenset({"new", "no-wait", "mine"})


class Words:
    """A command line: its positional words and its ``--options``. A word or an
    option's value that names a notebook variable holding an object (a Mol, a
    Series, a job) stands for it; the command, the tool and a job's id are taken
    as written (``word``), so a variable that shares their name changes nothing."""

    def __init__(self, line: str, namespace: dict[str, Any]) -> None:
        try:
            tokens = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot read the line: {exc}") from None
        self.positional: list[Any] = []
        #: The positional words as written.
        self.written: list[str] = []
        self.options: dict[str, list[Any]] = {}
        index = 0
        while index < len(tokens):
            token = tokens[index]
            index += 1
            if not token.startswith("--") or token == "--":
                self.positional.append(_value(token, namespace))
                self.written.append(token)
                continue
            key, sep, value = token[2:].partition("=")
            if key in FLAGS:
                self.options.setdefault(key, []).append(True)
                continue
            if not sep:
                if index >= len(tokens):
                    raise UsageError(f"--{key} needs a value")
                value = tokens[index]
                index += 1
            self.options.setdefault(key, []).append(_value(value, namespace))

    def word(self) -> str:
        """The next positional word as written (the caller checks there is one)."""
        self.positional.pop(0)
        return self.written.pop(0)

    def value(self) -> Any:
        """The next positional word as it stands: a variable's object, a number ..."""
        self.written.pop(0)
        return self.positional.pop(0)

    def take(self, key: str) -> Any:
        values = self.options.pop(key, None)
        return None if not values else values[-1]

    def keywords(self) -> dict[str, Any]:
        """The remaining options, as keywords (``--max-size`` is ``max_size``)."""
        return {
            key.replace("-", "_"): values[0] if len(values) == 1 else values
            for key, values in self.options.items()
        }


def _value(token: str, namespace: dict[str, Any]) -> Any:
    """A notebook variable named by the word (an RDKit Mol, a Series ...), a JSON
    number or boolean, or the word itself."""
    if token.isidentifier() and token in namespace:
        found = namespace[token]
        if not isinstance(found, (str, int, float, bool)):
            return found
    if token in ("true", "false") or token.lstrip("-").replace(".", "", 1).isdigit():
        return json.loads(token)
    return token


class PiqMagic:
    def __init__(self, shell: Any) -> None:
        self.shell = shell

    @property
    def client(self) -> Client:
        return default_client()

    def __call__(self, line: str, cell: str | None = None) -> Any:
        words = Words(line, self.shell.user_ns if self.shell is not None else {})
        if not words.positional:
            return self.help(words, cell)
        command = words.word()
        handler: Callable[[Words, str | None], Any] | None = (
            getattr(self, command.replace("-", "_"), None) if command in COMMANDS else None
        )
        if handler is None:
            raise UsageError(f"unknown %piq command {command!r}; try %piq help")
        try:
            return handler(words, cell)
        except JobFailed as exc:
            raise UsageError(exc.message) from None
        except PiqError as exc:
            raise UsageError(exc.message) from None
        except (KeyError, ValueError, TimeoutError, OSError) as exc:
            raise UsageError(str(exc).strip("'\"")) from None

    # -- commands ---------------------------------------------------------------

    def help(self, words: Words, cell: str | None) -> None:
        print(HELP)

    def _request(self, words: Words, cell: str | None) -> tuple[str, list[Any], dict[str, Any]]:
        if not words.positional:
            tools = ", ".join(t.id for t in self.client.tools())
            raise UsageError(f"name a tool: {tools}")
        tool = words.word()
        args = list(words.positional)
        if cell is not None and cell.strip():
            args.append(cell)
        if len(args) > 1:
            raise UsageError(f"one main input at most; name the others (--SLOT VALUE): {args}")
        return tool, args, words.keywords()

    def run(self, words: Words, cell: str | None) -> Any:
        name = words.take("name")
        new = bool(words.take("new"))
        wait = not words.take("no-wait")
        tool, args, kwargs = self._request(words, cell)
        job = self.client.run(
            tool, *args, name=None if name is None else str(name), new=new, **kwargs
        )
        print(job.how)
        if wait:
            try:
                job.wait()
            except KeyboardInterrupt:
                print(f"stopped waiting; job {job.id} goes on: piq.job({job.id!r})")
        return job

    def quote(self, words: Words, cell: str | None) -> Any:
        tool, args, kwargs = self._request(words, cell)
        return self.client.quote(tool, *args, **kwargs)  # shown as ``piq quote`` prints it

    def form(self, words: Words, cell: str | None) -> Any:
        name = words.take("name")
        tool, args, kwargs = self._request(words, cell)
        if args:
            slots = [s for s in self.client.tool(tool).input.slots if s.required]
            if len(slots) != 1:
                raise UsageError(f"name each input of {tool}: --SLOT VALUE")
            kwargs[slots[0].id] = args[0]
        return self.client.form(tool, name=None if name is None else str(name), **kwargs)

    def batch(self, words: Words, cell: str | None) -> Any:
        if not cell or not cell.strip():
            raise UsageError("%%piq batch TOOL takes one input per line of the cell")
        name = words.take("name")
        new = bool(words.take("new"))
        if not words.positional:
            raise UsageError("name a tool: %%piq batch TOOL")
        tool = words.word()
        lines = [line.strip() for line in cell.splitlines() if line.strip()]
        batch = self.client.run_batch(tool, lines, name=name, new=new, **words.keywords())
        print(f"{batch.how}: {len(batch.resource.job_ids)} jobs")
        return batch

    def jobs(self, words: Words, cell: str | None) -> Any:
        limit = words.take("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise UsageError(f"--limit takes a whole number of jobs, not {limit!r}")
        return self.client.jobs(
            tool=words.take("tool"),
            status=words.take("status"),
            search=words.take("search"),
            mine=bool(words.take("mine")),
            limit=int(limit) if limit else 20,
            sort=str(words.take("sort") or "created_at"),
            descending=_descending(words.take("order")),
        )

    def _job_id(self, words: Words) -> str:
        if not words.positional:
            raise UsageError("name a job: its id (job_...)")
        written = words.written[0]
        held = words.value()
        return held.id if isinstance(held, Job) else written

    def show(self, words: Words, cell: str | None) -> Any:
        return self.client.job(self._job_id(words))

    def cancel(self, words: Words, cell: str | None) -> Any:
        job = self.client.job(self._job_id(words)).cancel()
        print(f"job {job.id} is {job.status}")
        return job

    def share(self, words: Words, cell: str | None) -> Any:
        job = self.client.job(self._job_id(words))
        invite = words.options.pop("invite", [])
        share = job.share(words.take("visibility"), invite=[str(i) for i in invite])
        line = f"job {job.id} is {share.visibility}"
        if share.public_url:
            line += f": {share.public_url}"
        print(line)
        return share

    def tools(self, words: Words, cell: str | None) -> None:
        for tool in self.client.tools():
            cost = "free" if tool.credit_model.is_free else tool.credit_model.description
            print(f"{tool.id:<24} {tool.name} ({cost})")

    def credits(self, words: Words, cell: str | None) -> None:
        account = self.client.account()
        print(f"{account.workspace.credits.available} credits available")
        for budget in account.budgets:
            print(_budget_line(budget))

    def budget(self, words: Words, cell: str | None) -> Any:
        if not words.positional:
            for budget in self.client.budgets():
                print(_budget_line(budget))
            return None
        credits = words.value()
        if not isinstance(credits, int) or isinstance(credits, bool):
            raise UsageError(f"%piq budget N takes a whole number of credits, not {credits!r}")
        name = words.take("name")
        budget = self.client.budget(credits, name=None if name is None else str(name))
        print(_budget_line(budget))
        return budget


def _budget_line(budget: Any) -> str:
    return (
        f"budget {budget.name}: {budget.used} of {budget.credits} credits used "
        f"({budget.remaining} left, {budget.jobs} jobs)"
    )


COMMANDS = frozenset(
    {
        "run",
        "quote",
        "form",
        "batch",
        "jobs",
        "show",
        "cancel",
        "share",
        "tools",
        "credits",
        "budget",
        "help",
    }
)


def load(ipython: Any) -> None:
    ipython.register_magic_function(PiqMagic(ipython), "line_cell", "piq")


def _descending(order: Any) -> bool | None:
    """``--order asc|desc`` as the client's ``descending`` (None: the column's own)."""
    if order is None:
        return None
    if order not in ("asc", "desc"):
        raise UsageError(f"--order takes asc or desc, not {order!r}")
    return bool(order == "desc")
