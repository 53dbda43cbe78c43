"""A job's own process: runs one tool and reports over a pipe.

The supervisor starts it in a new process group, writes the request on standard
input and reads JSON lines from the file descriptor named by PIQ_REPORT_FD:
``{"type": "progress", ...}`` while it works, then one ``result`` or ``error``.
Standard output and error go to the job's log, so a tool that prints cannot break
the protocol. If its supervisor dies, the process group kills itself: no tool
outlives the worker that ran it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

REPORT_FD_ENV = "PIQ_REPORT_FD"


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            os.killpg(os.getpgid(0), signal.SIGKILL)


class Reporter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.stream.write(json.dumps(message) + "\n")
            self.stream.flush()


def main() -> int:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    reporter = Reporter(os.fdopen(int(os.environ[REPORT_FD_ENV]), "w"))
    request = json.load(sys.stdin)

    # Imported here so the parent watch starts before the (slow) tool imports.
    from ..jobs.errors import ValidationError
    from ..jobs.model import JobInput
    from ..tools.base import RunContext
    from ..tools.registry import ToolRegistry

    try:
        registry = ToolRegistry.from_entry_points(request["extra_tools"], only=request["tool"])
        tool = registry.get(request["tool"])
        context = RunContext(
            workdir=Path(request["workdir"]),
            report=lambda fraction, message: reporter.send(
                {"type": "progress", "fraction": fraction, "message": message}
            ),
        )
        inputs = [JobInput.from_api(item) for item in request["inputs"]]
        result = tool.run(inputs, tool.parse_settings(request["settings"]), context)
    except ValidationError as exc:
        reporter.send({"type": "error", "message": exc.message, "input_error": True})
        return 3
    except Exception as exc:
        traceback.print_exc()
        reporter.send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    reporter.send({"type": "result", "result": result.to_api()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
