"""What the benchmarks that run jobs share: this checkout first on the path of every
process they start, and one place for their results."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"


def use_checkout() -> None:
    """Put this checkout first on the path of this process and of the processes it
    starts (Dask workers, job processes), which load the benchmark's tools from it."""
    sys.path.insert(0, str(ROOT))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


def write_results(name: str, results: dict[str, Any], report: str) -> None:
    """Print the report and keep the results in ``benchmarks/.data/NAME.json``."""
    print(report)
    DATA.mkdir(parents=True, exist_ok=True)
    out = DATA / f"{name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")
