"""What produced a job's result: the tool and its version, the libraries and programs
it ran on, the model weights it loaded, the worker that ran it, the attempt, and a
fingerprint of its inputs and settings. Recorded when the job starts on its worker
(weights when the tool loads them); a job made from another says which and how.

One shape, written out here: the API's ``provenance`` field, the JSON export and
the store all carry ``record``'s form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import PurePath
from typing import Any, Protocol

#: A record as JSON (``jobs.model`` holds the job and refers to this module).
JsonDict = dict[str, Any]


class FingerprintedInput(Protocol):
    """What an input's fingerprint reads (``jobs.model.JobInput`` has it)."""

    @property
    def slot_id(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def content(self) -> str: ...


class Derivation(StrEnum):
    """How a job was made from another."""

    RETRY = "retry"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Software:
    """A library (a Python distribution) or a program a tool runs on, with the
    version installed where the job ran; None when it could not be told."""

    name: str
    kind: str  # "library" | "program"
    version: str | None
    path: str | None = None


@dataclass(frozen=True)
class ModelWeights:
    """Weights a tool loaded: where from, and a fingerprint of their index or config."""

    name: str
    location: str
    fingerprint: str | None


@dataclass(frozen=True)
class Worker:
    """The machine and process that ran the job."""

    host: str
    platform: str
    python: str
    cpu: str | None
    cpus: int
    gpu: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class RunEnvironment:
    """What the worker knows of a run before the job starts: the tool as installed
    there, what it runs on, and the machine."""

    tool_version: str
    software: tuple[Software, ...]
    worker: Worker


@dataclass(frozen=True)
class Provenance:
    """A job's provenance. ``derived_from`` is set when the job is made (from a
    retry or a duplicate); the rest when it runs, for its latest attempt."""

    derived_from: str | None = None
    derivation: Derivation | None = None
    recorded_at: datetime | None = None
    attempt: int | None = None
    tool: str | None = None
    tool_version: str | None = None
    software: tuple[Software, ...] = ()
    models: tuple[ModelWeights, ...] = ()
    worker: Worker | None = None
    inputs_fingerprint: str | None = None
    settings_fingerprint: str | None = None

    def ran(
        self,
        tool: str,
        environment: RunEnvironment,
        *,
        attempt: int,
        inputs: Sequence[FingerprintedInput],
        settings: JsonDict,
        at: datetime,
    ) -> Provenance:
        """The record of a new attempt; what an earlier attempt recorded is replaced,
        where the job came from is kept."""
        return replace(
            self,
            recorded_at=at,
            attempt=attempt,
            tool=tool,
            tool_version=environment.tool_version,
            software=environment.software,
            models=(),
            worker=environment.worker,
            inputs_fingerprint=inputs_fingerprint(inputs),
            settings_fingerprint=settings_fingerprint(settings),
        )

    def for_anyone(self) -> Provenance:
        """What a public page shows to anyone with its link: the versions, weights'
        fingerprints and the kind of machine, not the worker's host name nor where its
        programs and weights lie on disk."""
        worker = self.worker and replace(self.worker, host="")
        return replace(
            self,
            software=tuple(replace(s, path=None) for s in self.software),
            models=tuple(replace(m, location=PurePath(m.location).name) for m in self.models),
            worker=worker,
        )

    def with_models(self, models: Sequence[ModelWeights]) -> Provenance:
        """Weights loaded by the running attempt, added to those it already loaded
        (one location is listed once)."""
        known = {m.location: m for m in self.models}
        known.update({m.location: m for m in models})
        return replace(self, models=tuple(known.values()))


def _digest(value: Any) -> str:
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def inputs_fingerprint(inputs: Sequence[FingerprintedInput]) -> str:
    """What the tool read: each input's slot, format and content, in order (not its
    id, label or where it came from, so the same structure gives the same print)."""
    return _digest([[i.slot_id, i.format, i.content] for i in inputs])


def settings_fingerprint(settings: JsonDict) -> str:
    """The settings as the job keeps them (the tool's defaults filled in)."""
    return _digest(settings)


# -- the one shape ------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def record(provenance: Provenance | None) -> JsonDict:
    """The provenance as the API, the export and the store write it."""
    p = provenance or Provenance()
    worker = p.worker
    return {
        "derived_from": (
            {"job_id": p.derived_from, "how": str(p.derivation or Derivation.DUPLICATE)}
            if p.derived_from
            else None
        ),
        "recorded_at": _iso(p.recorded_at),
        "attempt": p.attempt,
        "tool": {"id": p.tool, "version": p.tool_version} if p.tool else None,
        "software": [
            {"name": s.name, "kind": s.kind, "version": s.version, "path": s.path}
            for s in p.software
        ],
        "models": [model_record(m) for m in p.models],
        "worker": (
            {
                "host": worker.host,
                "platform": worker.platform,
                "python": worker.python,
                "cpu": worker.cpu,
                "cpus": worker.cpus,
                "gpu": worker.gpu,
                "threads": worker.threads,
            }
            if worker
            else None
        ),
        "fingerprints": (
            {"inputs": p.inputs_fingerprint, "settings": p.settings_fingerprint}
            if p.inputs_fingerprint
            else None
        ),
    }


def model_record(model: ModelWeights) -> JsonDict:
    return {"name": model.name, "location": model.location, "fingerprint": model.fingerprint}


def model_from_record(data: JsonDict) -> ModelWeights:
    return ModelWeights(
        name=str(data["name"]),
        location=str(data["location"]),
        fingerprint=_text(data.get("fingerprint")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def from_record(data: JsonDict | None) -> Provenance | None:
    """``record``'s form read back; None for nothing recorded."""
    if not data:
        return None
    derived = data.get("derived_from") or {}
    tool = data.get("tool") or {}
    worker = data.get("worker")
    prints = data.get("fingerprints") or {}
    recorded = data.get("recorded_at")
    return Provenance(
        derived_from=_text(derived.get("job_id")),
        derivation=Derivation(derived["how"]) if derived.get("how") else None,
        recorded_at=datetime.fromisoformat(recorded) if recorded else None,
        attempt=_int(data.get("attempt")),
        tool=_text(tool.get("id")),
        tool_version=_text(tool.get("version")),
        software=tuple(
            Software(
                name=str(s["name"]),
                kind=str(s.get("kind") or "library"),
                version=_text(s.get("version")),
                path=_text(s.get("path")),
            )
            for s in data.get("software") or ()
        ),
        models=tuple(model_from_record(m) for m in data.get("models") or ()),
        worker=(
            Worker(
                host=str(worker.get("host") or ""),
                platform=str(worker.get("platform") or ""),
                python=str(worker.get("python") or ""),
                cpu=_text(worker.get("cpu")),
                cpus=int(worker.get("cpus") or 0),
                gpu=_text(worker.get("gpu")),
                threads=_int(worker.get("threads")),
            )
            if worker
            else None
        ),
        inputs_fingerprint=_text(prints.get("inputs")),
        settings_fingerprint=_text(prints.get("settings")),
    )


def derived(job_id: str, how: Derivation) -> Provenance:
    return Provenance(derived_from=job_id, derivation=how)


__all__ = [
    "Derivation",
    "ModelWeights",
    "Provenance",
    "RunEnvironment",
    "Software",
    "Worker",
    "derived",
    "from_record",
    "inputs_fingerprint",
    "model_from_record",
    "model_record",
    "record",
    "settings_fingerprint",
]
