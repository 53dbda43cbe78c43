"""Files saved in a workspace to be used as job inputs by their id, listed with the
outputs of the jobs whose contents the actor may see."""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

from .access import Actor
from .core import ServiceCore
from .errors import Conflict, Forbidden, PayloadTooLarge, ValidationError
from .model import FileOrigin, FileRecord, content_type_for, new_id
from .paging import check_limit, cursor_after, start_after
from .ports import FileFilter
from .text import check_filter, check_text

#: The longest file name most file systems hold, counted in bytes of UTF-8.
MAX_FILE_NAME_BYTES = 255
_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]{0,39}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_file_name(name: str) -> str:
    """An upload's name, stripped: a plain file name that every file system can
    hold, or a ``ValidationError`` saying what is wrong with it."""
    name = check_text(name, "name").strip()
    size = len(name.encode("utf-8"))
    if not name or size > MAX_FILE_NAME_BYTES:
        problem = f"is {size} bytes of UTF-8" if name else "is empty"
        raise ValidationError(
            f"the file name {problem}; a file name is 1 to {MAX_FILE_NAME_BYTES} bytes",
            errors=[{"field": "name", "message": f"1 to {MAX_FILE_NAME_BYTES} bytes of UTF-8"}],
        )
    if "/" in name or "\\" in name or name.startswith(".") or _CONTROL.search(name):
        raise ValidationError(
            f"{name!r} is not a plain file name",
            errors=[
                {
                    "field": "name",
                    "message": "a plain file name: no folders, no control characters, "
                    "not starting with a dot",
                }
            ],
        )
    return name


def file_format(name: str, given: str | None) -> str:
    """A file's format, lower case: the one given, or what its name's extension
    says (none when the extension is not one)."""
    if not given:
        extension = name.rpartition(".")[2] if "." in name else ""
        return extension.lower() if _FORMAT.fullmatch(extension) else ""
    if not _FORMAT.fullmatch(given):
        raise ValidationError(
            f"{given[:50]!r} is not a file format",
            errors=[{"field": "format", "message": "1 to 40 letters, digits or ._+-"}],
        )
    return given.lower()


class Uploads(ServiceCore):
    def upload_file(
        self, actor: Actor, name: str, content: bytes, *, format: str | None = None
    ) -> FileRecord:
        """Save a file in the workspace, to be used as a job input by its id."""
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot upload files")
        name = checked_file_name(name)
        format = file_format(name, format)
        limit = self.config.max_upload_bytes
        if len(content) > limit:
            raise PayloadTooLarge(
                f"{name} is {len(content)} bytes; the limit is {limit}",
                details={"size": len(content), "max_bytes": limit},
            )
        record = FileRecord(
            id=new_id("file"),
            workspace_id=workspace_id,
            owner_id=user_id,
            job_id=None,
            name=name,
            format=format,
            content_type=content_type_for(name),
            size=len(content),
            origin=FileOrigin.UPLOAD,
            created_at=self.clock(),
        )
        folder = self.files.upload_dir(record.id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
            with self.store.write() as tx:
                tx.insert_files([record])
        except BaseException as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
                message = "the file name is longer than the file system here holds"
                raise ValidationError(
                    message, errors=[{"field": "name", "message": message}]
                ) from None
            raise
        return record

    def get_file(self, actor: Actor, file_id: str) -> tuple[Path, FileRecord]:
        with self.store.read() as tx:
            return self._readable_file(tx, actor, file_id)

    def list_files(
        self,
        actor: Actor,
        file_filter: FileFilter | None = None,
        *,
        starting_after: str | None = None,
        limit: int = 20,
    ) -> tuple[list[FileRecord], str | None]:
        """The workspace's files, newest first: uploads, and the outputs of jobs
        whose contents the actor may see."""
        workspace_id, _, _ = self._member(actor)
        check_limit(limit)
        after = start_after(starting_after)
        file_filter = file_filter or FileFilter()
        check_filter(file_filter)
        visible: list[FileRecord] = []
        with self.store.read() as tx:
            while len(visible) <= limit:
                rows = tx.list_files(workspace_id, file_filter, after, limit + 1)
                for record in rows:
                    if self._may_read_file(tx, actor, record):
                        visible.append(record)
                if len(rows) <= limit:
                    break
                after = (rows[-1].created_at, rows[-1].id)
        more = len(visible) > limit
        page = visible[:limit]
        cursor = cursor_after(page[-1].created_at, page[-1].id) if more and page else None
        return page, cursor

    def delete_file(self, actor: Actor, file_id: str) -> None:
        """Delete an upload (its owner, or a workspace admin). Job outputs go with
        their job."""
        with self.store.write() as tx:
            path, record = self._readable_file(tx, actor, file_id)
            _, user_id, role = self._member(actor)
            if record.job_id is not None:
                raise Conflict(
                    "a job's output is deleted with its job", details={"job_id": record.job_id}
                )
            if record.owner_id != user_id and not role.manages_workspace:
                raise Forbidden("only the uploader or a workspace admin may delete this file")
            tx.delete_file(file_id)
        shutil.rmtree(path.parent, ignore_errors=True)
