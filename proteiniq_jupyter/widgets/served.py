"""Widgets whose saved state holds a loader rather than their bundle.

anywidget keeps a widget's front end (``_esm``) in its state, so a notebook saved
with five views would hold five copies of React and the views. A ``ServedWidget``'s
``_esm`` is instead a loader of about a kilobyte (``js/src/widgets/served_loader.tsx``)
that imports the bundle the server extension serves
(``{base_url}static/proteiniq/widgets/<bundle>.js``), once per page; on a page with
no Jupyter server (VS Code) it asks the kernel for the bundle once instead.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .base import PiqWidget, action, bundle

#: The loader's own bundle.
LOADER = "served_loader"


def served_esm(name: str) -> str:
    """The loader of the bundle ``name``, the bundle's digest in its URL so that a
    page never runs a stale copy from its cache."""
    digest = hashlib.sha256(bundle(name).encode()).hexdigest()[:12]
    target = json.dumps(f"{name}.js?v={digest}")
    return f"const __PIQ_BUNDLE__ = {target};\n{bundle(LOADER)}"


class ServedWidget(PiqWidget):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_esm=served_esm(self.bundle), **kwargs)

    @action("bundle")
    def send_bundle(self) -> dict[str, Any]:
        """The widget's bundle, for a page with no server to import it from."""
        return {"esm": bundle(self.bundle)}
