"""How many threads a job's process may use, and what else its process is set up
with for its tool.

Dask's nanny starts every worker with ``OMP_NUM_THREADS=1`` (and MKL's and
OpenBLAS's), so that the tasks of a worker's threads do not oversubscribe its cores;
a job's process inherits it, and a CPU fold alone on an idle machine would run on
one thread. Each job gets a thread budget instead: the CPUs its worker may use on
this machine (its affinity, and a cgroup's quota where one is set), divided among
the jobs that run there at once, itself included, at least one each. A job alone
gets every core; jobs that start together split them. A budget is fixed when its
job starts, since a library's thread pool cannot be resized under a running
computation: a job that starts while others run gets its share of the cores as
they are then.

The jobs that run at once are counted through a folder on this machine, one per
data directory (the jobs of one installation; a shared data directory on another
machine has a folder of its own there): each job's supervisor holds a lock on a
file in it while the job runs. A file whose lock nobody holds was left by a process
that died, and is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import math
import os
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..jobs.model import JsonDict

log = logging.getLogger(__name__)

#: The variables that numerical libraries read for their thread count; a job's
#: process sets each to its budget, and the programs a tool starts inherit them.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
#: How OpenMP's threads wait between parallel regions, unless the worker's
#: environment says otherwise. libgomp's default spins; where a job's threads share
#: their CPUs with other work, a spinning thread holds the CPU that the thread it
#: waits for needs. On two CPUs under other load, a small ESMFold fold took
#: 0.65-5.8 s on two threads against 0.07-0.2 s on one; waiting passively, two
#: threads took 0.18-0.22 s (a 200-residue fold: 2.6-3.7 s against 5.4-10.6 s).
OPENMP_WAIT_POLICY = "PASSIVE"
_SLOT_SUFFIX = ".slot"
#: ``prctl`` option that turns transparent huge pages off for a process and the
#: processes it starts (Linux 3.15 and later).
_PR_SET_THP_DISABLE = 41


@dataclass(frozen=True)
class ThreadBudget:
    """A job's threads, out of ``cpus`` shared by ``jobs`` jobs (itself included)."""

    threads: int
    cpus: int
    jobs: int

    def to_event(self) -> JsonDict:
        return {"threads": self.threads, "cpus": self.cpus, "jobs_sharing_cpus": self.jobs}


def machine_cpus() -> int:
    """The CPUs this process may use: its affinity mask, narrowed by a cgroup's
    CPU quota (a container given two CPUs of a larger machine counts two)."""
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota) if quota is not None else cpus)


def _cgroup_cpu_quota() -> int | None:
    """CPUs allowed by this process's cgroup (version 2 ``cpu.max``), rounded up;
    None when no quota is set or the machine does not say."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
        group = next(line[3:] for line in lines if line.startswith("0::"))
        quota, period = (
            (Path("/sys/fs/cgroup") / group.lstrip("/") / "cpu.max")
            .read_text(encoding="ascii")
            .split()
        )
    except (OSError, StopIteration, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def slots_folder(pool: str) -> Path:
    """The folder on this machine where the jobs of ``pool`` hold their slots."""
    digest = hashlib.sha256(pool.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"piq-cpu-{os.getuid()}" / digest


def _own_folder(pool: str) -> Path | None:
    """``slots_folder(pool)``, made if need be; None when it cannot be, or when its
    parent is not this user's own (someone else's folder could hold false slots)."""
    folder = slots_folder(pool)
    try:
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        owner = folder.parent.lstat()
        if owner.st_uid != os.getuid() or not stat.S_ISDIR(owner.st_mode):
            raise PermissionError(f"{folder.parent} is not a folder of this user's")
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        log.warning("jobs get every CPU: their slots cannot be kept (%s)", exc)
        return None
    return folder


@contextlib.contextmanager
def thread_budget(pool: str, job_id: str, cpus: int | None = None) -> Iterator[ThreadBudget]:
    """Hold a slot among the jobs of ``pool`` on this machine while the block runs,
    and give the job its share of ``cpus`` (default: ``machine_cpus()``). Where no
    slot can be kept, the job gets every CPU."""
    cpus = cpus or machine_cpus()
    folder = _own_folder(pool)
    if folder is None:
        yield ThreadBudget(cpus, cpus, 1)
        return
    name = f"{job_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    staging = folder / f".{name}"
    slot = folder / f"{name}{_SLOT_SUFFIX}"
    try:
        fd = os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        log.warning("job %s gets every CPU: no slot for it in %s (%s)", job_id, folder, exc)
        yield ThreadBudget(cpus, cpus, 1)
        return
    try:
        # Locked before it appears under its counted name, so that no one counting
        # takes it for a dead job's.
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(staging, slot)
        jobs = max(1, _live_slots(folder))
        yield ThreadBudget(max(1, cpus // jobs), cpus, jobs)
    finally:
        with contextlib.suppress(FileNotFoundError):
            slot.unlink()
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        os.close(fd)


def _live_slots(folder: Path) -> int:
    """Slots whose holder runs (their lock is held); the others are removed."""
    live = 0
    for path in folder.glob(f"*{_SLOT_SUFFIX}"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # its job ended meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            live += 1
        else:  # nobody holds it: its process died without removing it
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        finally:
            os.close(fd)
    return live


def openmp_variables() -> dict[str, str]:
    """What job processes start with for OpenMP (read when it is loaded, so set in
    the fork server's environment): the wait policy, kept as the worker has it when
    its environment sets one."""
    return {} if "OMP_WAIT_POLICY" in os.environ else {"OMP_WAIT_POLICY": OPENMP_WAIT_POLICY}


# -- in the job's process ---------------------------------------------------------


def use_threads(threads: int) -> None:
    """Give this process, the libraries it loads and the programs it starts
    ``threads`` threads. A library already loaded has read its variable: torch,
    when the fork server preloaded it, is told directly."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def without_huge_pages() -> bool:
    """Turn transparent huge pages off for this process and its children (the fork
    server asks for them for every job's allocations); False where Linux cannot."""
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
