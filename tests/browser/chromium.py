"""Debian's chromium driven by Playwright, as every browser test here uses it: no
request leaves 127.0.0.1 (each one tried is aborted and kept, for the test to fail
on), WebGL drawn in software, and the checks a person would make of a page: a
canvas whose pixels are not all one colour, and axe-core's accessibility rules.

The async ``visit`` serves tests that run in the server's own event loop; the lab
tests drive a synchronous page (``launch``) over a JupyterLab of their own."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NEEDS_CHROMIUM = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="chromium is not installed (make test installs it)",
)
#: Screenshots of every run (ignored by git).
ARTIFACTS = REPO / "tests" / "artifacts"
#: axe-core, from the root package.json's devDependencies (``npm ci``).
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
#: Flags that keep chromium from calling home, and that draw WebGL in software.
FLAGS = (
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
VIEWPORT = {"width": 1280, "height": 1000}
#: How often a timing's wait asks the page for what it waits on. Playwright's default,
#: every animation frame, keeps chromium drawing frames for as long as the wait lasts
#: (a tenth of a core on an idle page, more on a page of widgets), which the timing
#: would share the machine with; the times themselves come from the page's observers.
POLL_MS = 20


def is_local(url: str) -> bool:
    """Whether ``url`` stays on this machine (``data:`` and ``blob:`` URLs do)."""
    return urlsplit(url).hostname in ("127.0.0.1", None)


@dataclass
class Visit:
    """A browser page, with what it asked of any host but this one (aborted) and
    the errors its scripts raised."""

    page: Any
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _guard(seen: Visit) -> Callable[[Any], Any]:
    """A route handler: requests to 127.0.0.1 go on, any other is kept and aborted.
    (Works for both of Playwright's APIs: the async one awaits what it returns.)"""

    def handle(route: Any) -> Any:
        url = route.request.url
        if is_local(url):
            return route.continue_()
        seen.outside.append(url)
        return route.abort("blockedbyclient")

    return handle


def _watch(seen: Visit, page: Any) -> None:
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("websocket", lambda ws: None if is_local(ws.url) else seen.outside.append(ws.url))


@contextlib.asynccontextmanager
async def visit(*flags: str) -> AsyncIterator[Visit]:
    """A page of a fresh headless chromium (async API), closed at the end."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *flags])
        try:
            context = await browser.new_context(viewport=VIEWPORT)
            seen = Visit(await context.new_page())
            await context.route("**/*", _guard(seen))
            _watch(seen, seen.page)
            yield seen
        finally:
            await browser.close()


@contextlib.contextmanager
def launch() -> Iterator[Visit]:
    """A page of a fresh headless chromium (sync API), closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(FLAGS))
        try:
            context = browser.new_context(viewport=VIEWPORT)
            seen = Visit(context.new_page())
            context.route("**/*", _guard(seen))
            _watch(seen, seen.page)
            yield seen
        finally:
            browser.close()


#: What the WebGL canvas inside an element shows, read through its pixels (copied
#: onto a 2D canvas first: an element screenshot of a transparent canvas proves
#: nothing). Counts the pixels drawn (not the near-white background), the bright
#: green ones (3Dmol's carbons of a ligand), those that changed since the last call
#: (kept on the canvas), and the distinct colours, up to 256. ``webgl`` is false
#: when the element holds no WebGL canvas (the first canvas is read then).
CANVAS_PIXELS = """(element) => {
  const canvases = element.tagName === 'CANVAS'
    ? [element] : [...element.querySelectorAll('canvas')];
  const gl = (c) => !!(c.getContext('webgl2') || c.getContext('webgl'));
  const canvas = canvases.find(gl) || canvases[0];
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext('2d');
  context.drawImage(canvas, 0, 0);
  const data = context.getImageData(0, 0, copy.width, copy.height).data;
  let drawn = 0, green = 0, changed = 0;
  const colours = new Set();
  const before = canvas.lastPixels;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (r < 245 || g < 245 || b < 245) drawn++;
    if (g > 120 && r < 100 && b < 100) green++;
    if (before && (before[i] !== r || before[i + 1] !== g || before[i + 2] !== b)) changed++;
    if (colours.size < 256) colours.add((r << 16) | (g << 8) | b);
  }
  canvas.lastPixels = data;
  return {drawn, green, changed, colours: colours.size, total: data.length / 4,
          corner: [data[0], data[1], data[2]], webgl: gl(canvas), canvases: canvases.length};
}"""

#: Runs axe-core over one element; the serious and critical violations, each with
#: the elements it found. Colour contrast is judged too (both themes are checked).
AXE_RUN = """async (element) => {
  const result = await window.axe.run(element, {
    resultTypes: ['violations'],
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
  });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map((n) => n.html.slice(0, 200))}));
}"""


def axe_violations(page: Any, element: Any) -> list[dict[str, Any]]:
    """The serious and critical accessibility violations axe-core finds in
    ``element`` (a locator or element handle) of ``page``."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    handle = element.element_handle() if hasattr(element, "element_handle") else element
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, handle)
    return found
