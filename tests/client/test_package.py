"""``import proteiniq_jupyter as piq``: every name the client exports is reachable
as ``piq.<name>``, and importing the package (as the server extension and ``piq``
do) does not import the client or its HTTP library."""

from __future__ import annotations

import subprocess
import sys

import proteiniq_jupyter as piq
from proteiniq_jupyter import client

from ..conftest import REPO


def test_every_name_the_client_exports_is_a_name_of_the_package() -> None:
    assert set(client.__all__) == set(piq._CLIENT)
    for name in client.__all__:
        reached = getattr(piq, name)
        if name in ("jobs", "tools"):  # also subpackages: calling them calls the verb
            assert callable(reached)
        else:
            assert reached is getattr(client, name), name
    assert set(client.__all__) <= set(dir(piq))


def test_importing_the_package_leaves_the_client_unloaded() -> None:
    code = (
        "import sys, proteiniq_jupyter\n"
        "print(sorted(m for m in ('proteiniq_jupyter.client', 'httpx', 'IPython') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
