"""File routes: list files across jobs, upload, download or preview one."""

from __future__ import annotations

from urllib.parse import quote

from .. import api
from ..jobs.errors import PayloadTooLarge, ValidationError
from ..jobs.ports import FileFilter
from .base import PiqHandler, authenticated
from .routes import API

#: Formats shown as text by a preview.
TEXT_FORMATS = frozenset(
    {
        "pdb",
        "ent",
        "cif",
        "mmcif",
        "sdf",
        "mol",
        "mol2",
        "pdbqt",
        "fasta",
        "fa",
        "smi",
        "smiles",
        "txt",
        "text",
        "csv",
        "tsv",
        "json",
        "yaml",
        "yml",
        "a3m",
        "log",
    }
)
PREVIEW_BYTES = 64 * 1024


class FilesHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        mine = self.get_query_argument("mine", "") in ("1", "true")
        file_filter = FileFilter(
            name_contains=self.get_query_argument("q", None),
            format=self.get_query_argument("format", None),
            origin=self.get_query_argument("origin", None),
            owner_id=actor.user_id if mine else None,
        )
        files, cursor = await self.call(
            self.state.service.list_files,
            actor,
            file_filter,
            starting_after=self.get_query_argument("starting_after", None),
            limit=self.query_int("limit", 20),
        )
        self.send(api.FileList.of(files, cursor))

    @authenticated
    async def post(self) -> None:
        """An upload: multipart/form-data with one ``file`` part, or the raw bytes
        with the name in ``?name=`` (or the ``X-File-Name`` header)."""
        limit = self.state.max_upload_bytes
        declared = int(self.request.headers.get("Content-Length") or 0)
        if declared > limit + 64 * 1024:
            raise PayloadTooLarge(
                f"the upload is {declared} bytes; the limit is {limit}",
                details={"size": declared, "max_bytes": limit},
            )
        parts = self.request.files.get("file") or []
        if parts:
            name, content = parts[0]["filename"], parts[0]["body"]
        else:
            name = self.get_query_argument("name", None) or self.request.headers.get(
                "X-File-Name", ""
            )
            content = self.request.body
        if not name:
            raise ValidationError(
                "name the file: a multipart 'file' part, ?name= or the X-File-Name header",
                errors=[{"field": "name", "message": "required"}],
            )
        actor = await self.actor()
        record = await self.call(
            self.state.service.upload_file,
            actor,
            name,
            content,
            format=self.get_query_argument("format", None),
        )
        self.set_header("Location", self.request.path.rstrip("/") + "/" + record.id)
        self.send(api.FileRecord.of(record), status=201)


class FileHandler(PiqHandler):
    @authenticated
    async def get(self, file_id: str) -> None:
        actor = await self.actor()
        path, record = await self.call(self.state.service.get_file, actor, file_id)
        if self.get_query_argument("preview", "") in ("1", "true"):
            if record.format.lower() not in TEXT_FORMATS:
                raise ValidationError(
                    f"{record.name} is not a text format; download it instead",
                    errors=[{"field": "preview", "message": "only text formats have a preview"}],
                )
            with open(path, "rb") as stream:
                head = stream.read(PREVIEW_BYTES + 1)
            self.send(api.FilePreview.of(record, head, PREVIEW_BYTES))
            return
        self.set_header("Content-Type", record.content_type)
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(record.name)}")
        self.set_header("Content-Length", str(path.stat().st_size))
        await self.stream(path)

    @authenticated
    async def delete(self, file_id: str) -> None:
        actor = await self.actor()
        await self.call(self.state.service.delete_file, actor, file_id)
        self.send(api.DeletedFile.of(file_id))


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{API}/files", FilesHandler),
        (rf"{API}/files/(?P<file_id>[A-Za-z0-9_\-]+)", FileHandler),
    ]
