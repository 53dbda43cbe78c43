"""Fetching Protein Data Bank entries by id over HTTP (RCSB's download service by
default), for inputs that name an entry rather than carry a file.

Entries are fetched at submit, so the job stores the structure itself: it runs the
same on a worker without internet, and says later exactly what it ran on. Where no
server is reachable, a clear error says so and the job is never created.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.parse
import urllib.request

from .jobs.ports import StructureUnavailable
from .recent import Recent

#: RCSB's file download service; ``{id}`` is the entry's id as the PDB writes it.
RCSB_PDB_URL = "https://files.rcsb.org/download/{id}.pdb"
TIMEOUT_S = 30.0
#: Larger than any entry the PDB serves in this format (those too large for it come
#: only as mmCIF, and the server answers 404).
MAX_BYTES = 100_000_000
#: Entries kept in memory, so that a quote and then a submit fetch once.
CACHED_ENTRIES = 16


class PdbArchive:
    """A ``StructureSource`` reading ``url_template`` with the id filled in."""

    def __init__(
        self,
        url_template: str = RCSB_PDB_URL,
        *,
        timeout_s: float = TIMEOUT_S,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if "{id}" not in url_template:
            raise ValueError(f"the PDB URL {url_template!r} has no {{id}} to fill in")
        self.url_template = url_template
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._recent: Recent[str, str] = Recent(CACHED_ENTRIES)

    def url(self, pdb_id: str) -> str:
        return self.url_template.replace("{id}", urllib.parse.quote(pdb_id))

    def fetch(self, pdb_id: str) -> str:
        return self._recent.get_or_make(pdb_id, lambda: self._download(pdb_id))

    def _download(self, pdb_id: str) -> str:
        url = self.url(pdb_id)
        host = urllib.parse.urlsplit(url).netloc or url
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body: bytes = response.read(self.max_bytes + 1)
                encoding = response.headers.get("Content-Encoding", "")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise StructureUnavailable(
                    f"the PDB has no entry {pdb_id} in PDB format ({url} answered 404); "
                    "check the id, or send the structure as a file (large entries come "
                    "only as mmCIF)"
                ) from None
            raise StructureUnavailable(
                f"fetching PDB entry {pdb_id} from {host} failed: HTTP {exc.code} {exc.reason}"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StructureUnavailable(
                f"could not reach {host} to fetch PDB entry {pdb_id} ({reason}); send the "
                "structure as a file instead, or set PIQ_PDB_URL to a mirror"
            ) from None
        if encoding == "gzip" or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        if len(body) > self.max_bytes:
            raise StructureUnavailable(
                f"PDB entry {pdb_id} from {host} is larger than {self.max_bytes:,} bytes"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise StructureUnavailable(
                f"PDB entry {pdb_id} from {host} is not text: is {url} a PDB file?"
            ) from None
        if not any(line.startswith(("ATOM", "HETATM")) for line in text.splitlines()):
            raise StructureUnavailable(
                f"what {host} sent for PDB entry {pdb_id} has no ATOM or HETATM record: "
                f"is {self.url_template} a PDB file download?"
            )
        return text
