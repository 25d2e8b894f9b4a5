"""Executors: where an evaluation's work items run (this process, worker processes, Ray actors).

A MultiTP run is a list of `worker.WorkItem` s, (country, a chunk of pool positions); a
`worker.Worker` loads the model once and turns a work item into run records. Three
backends host workers behind one interface:

* ``inline``: one worker in this process (``--jobs 1``; may reuse a loaded engine);
* ``process``: N spawned processes, each with its own model (``--jobs N``);
* ``ray``: N Ray actors, on this machine or a cluster (``--executor ray``).

One loop, `Executor.run`, feeds every backend: it hands an item to each idle worker,
yields each finished item's records to the caller (the run's single writer, which
appends and fsyncs them), replaces a worker that died and puts its item back at the
front of the queue. Results come back in completion order; records are keyed, so the
run folder is the same set of records in any order, and resume works across backends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import DiscaError
from .worker import Worker, WorkItem, WorkSpec

__all__ = [
    "EXECUTORS",
    "Executor",
    "check_workers_agree",
    "default_threads",
    "make_executor",
    "plan_jobs",
]

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")

#: A work item may kill its worker this often before the run gives up on it.
MAX_DEATHS = 2

#: Linux prctl option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------------- backends


@dataclass
class _Outcome:
    kind: str  # "ok" | "error" | "dead"
    records: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    message: str = ""


#: ``on_scenario(slot, k)``: the item in ``slot`` has k scenarios done.
_OnScenario = Callable[[int, int], None]


class _Backend(Protocol):
    """Hosts workers in slots 0..n-1, each holding at most one item."""

    n: int

    def start(self) -> list[dict[str, Any]]: ...

    def submit(self, slot: int, item: WorkItem) -> None: ...

    def wait(self, busy: Sequence[int], on_scenario: _OnScenario) -> list[tuple[int, _Outcome]]:
        """Finished items by slot; meanwhile ``on_scenario(slot, k)`` as scenarios finish."""
        ...

    def replace(self, slot: int) -> None: ...

    def close(self) -> None: ...


class _InlineBackend:
    """One worker in this process; `wait` does the work (errors propagate unchanged)."""

    n = 1

    def __init__(self, spec: WorkSpec, engine: Any = None, model_info: Any = None) -> None:
        self._args = (spec, engine, model_info)
        self._worker: Worker | None = None
        self._item: WorkItem | None = None

    def start(self) -> list[dict[str, Any]]:
        self._worker = Worker(*self._args)
        return [self._worker.model_info]

    def submit(self, slot: int, item: WorkItem) -> None:
        self._item = item

    def wait(self, busy: Sequence[int], on_scenario: _OnScenario) -> list[tuple[int, _Outcome]]:
        assert self._worker is not None and self._item is not None
        records, stats = self._worker.process(self._item, lambda k: on_scenario(0, k))
        return [(0, _Outcome("ok", records, stats))]

    def replace(self, slot: int) -> None:  # pragma: no cover - an inline worker cannot die
        raise DiscaError("the in-process worker cannot be replaced")

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker process as soon as the run's process is gone (even by kill -9).

    On Linux the kernel sends SIGTERM when the parent dies (``PR_SET_PDEATHSIG``), which
    stops the worker even inside an engine call; elsewhere a thread polls the parent pid.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
            if os.getppid() != parent_pid:  # it died before the signal was asked for
                os._exit(0)
            return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="disca-parent-watch", daemon=True).start()


def _process_main(spec: WorkSpec, conn: Any, parent_pid: int | None = None) -> None:
    """Entry point of a worker process: load the model, then serve items until None.

    The worker ends quietly when the run's process is gone (killed, or its pipe closed).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    with contextlib.suppress(BrokenPipeError, ConnectionError, EOFError, OSError):
        _serve(spec, conn)


def _serve(spec: WorkSpec, conn: Any) -> None:
    """Load the model and answer the parent's items on `conn` (errors as one line)."""
    try:
        worker = Worker(spec)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", f"{type(exc).__name__}: {exc}" if not isinstance(exc, DiscaError)
                   else str(exc)))  # fmt: skip
        return
    try:
        conn.send(("ready", worker.model_info))
        while True:
            item = conn.recv()  # EOFError: the parent is gone
            if item is None:
                break
            try:
                records, stats = worker.process(item, lambda k: conn.send(("scenario", k)))
            except (BrokenPipeError, ConnectionError):
                raise  # the parent is gone: leave quietly
            except BaseException as exc:  # noqa: BLE001
                conn.send(
                    ("error", f"{item.country} {item.positions}: {type(exc).__name__}: {exc}")
                )
                break
            conn.send(("ok", records, stats))
    finally:
        worker.close()


class _ProcessBackend:
    """N spawned worker processes, one duplex pipe each."""

    def __init__(self, spec: WorkSpec, n: int) -> None:
        import multiprocessing

        self.n = n
        self._spec = spec
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[Any] = [None] * n
        self._conns: list[Any] = [None] * n

    def _spawn(self, slot: int) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_process_main,
            args=(self._spec, child, os.getpid()),
            name=f"disca-worker-{slot}",
        )
        proc.daemon = True
        proc.start()
        child.close()
        self._procs[slot], self._conns[slot] = proc, parent

    def _ready(self, slot: int) -> dict[str, Any]:
        try:
            message = self._conns[slot].recv()
        except EOFError:
            raise DiscaError(
                f"worker {slot} died while loading the model (exit {self._procs[slot].exitcode})"
            ) from None
        if message[0] != "ready":
            raise DiscaError(f"worker {slot}: {message[1]}")
        return message[1]

    def start(self) -> list[dict[str, Any]]:
        for slot in range(self.n):
            self._spawn(slot)
        return [self._ready(slot) for slot in range(self.n)]

    def submit(self, slot: int, item: WorkItem) -> None:
        # a worker that died while idle is noticed by `wait` (EOF), which requeues the item
        with contextlib.suppress(OSError):
            self._conns[slot].send(item)

    def wait(self, busy: Sequence[int], on_scenario: _OnScenario) -> list[tuple[int, _Outcome]]:
        from multiprocessing.connection import wait

        wait([self._conns[s] for s in busy] + [self._procs[s].sentinel for s in busy])
        out = []
        for slot in busy:
            conn, proc = self._conns[slot], self._procs[slot]
            try:
                if conn.poll():  # an answer, or EOF when the process is gone
                    message = conn.recv()
                elif not proc.is_alive():
                    raise EOFError
                else:
                    continue
            except (EOFError, OSError):
                proc.join(1.0)
                out.append((slot, _Outcome("dead", message=f"exit code {proc.exitcode}")))
                continue
            if message[0] == "scenario":  # progress; the item is still running
                on_scenario(slot, message[1])
            elif message[0] == "ok":
                out.append((slot, _Outcome("ok", message[1], message[2])))
            else:
                out.append((slot, _Outcome("error", message=str(message[1]))))
        return out

    def replace(self, slot: int) -> None:
        self._stop(slot)
        self._spawn(slot)
        self._ready(slot)

    def _stop(self, slot: int, timeout: float = 2.0) -> None:
        proc, conn = self._procs[slot], self._conns[slot]
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
            conn.close()
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._procs[slot] = self._conns[slot] = None

    def close(self) -> None:
        for slot in range(self.n):
            if self._procs[slot] is not None and self._procs[slot].is_alive():
                self._procs[slot].terminate()  # in flight work is dropped; resume redoes it
        for slot in range(self.n):
            self._stop(slot)

    def pids(self) -> list[int]:
        """Process ids of the live workers (tests kill one)."""
        return [p.pid for p in self._procs if p is not None]


class _RayWorker:
    """The Ray actor class (wrapped with ``ray.remote`` at run time): one `Worker`."""

    def __init__(self, spec: WorkSpec) -> None:
        self._worker = Worker(spec)

    def info(self) -> dict[str, Any]:
        return self._worker.model_info

    def process(self, item: WorkItem) -> tuple[list[dict[str, Any]], dict[str, int]]:
        return self._worker.process(item)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DiscaError(
            "--executor ray needs Ray: pip install 'disca-edge[ray]' (on every node)"
        ) from None
    return ray


def _ray_message(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if cause is not None:
        return str(cause) if isinstance(cause, DiscaError) else f"{type(cause).__name__}: {cause}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _RayBackend:
    """N Ray actors, each loading the model once (resolved and pulled on its node)."""

    def __init__(self, spec: WorkSpec, n: int, address: str | None) -> None:
        self.n = n
        self._spec = spec
        self._address = address
        self._ray = _ray()
        self._actors: list[Any] = [None] * n
        self._refs: dict[int, Any] = {}
        self._own_ray = False
        self._cls: Any = None

    def start(self) -> list[dict[str, Any]]:
        ray = self._ray
        cpus = self._spec.engine.n_threads or 1
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            if self._address is None:  # a local Ray instance sized for the jobs
                kwargs["num_cpus"] = self.n * cpus
            try:
                ray.init(address=self._address, **kwargs)
            except Exception as exc:  # noqa: BLE001 - connection problems: one line
                raise DiscaError(f"cannot start or reach Ray ({self._address}): {exc}") from None
            self._own_ray = True
        self._cls = ray.remote(num_cpus=cpus, max_restarts=0)(_RayWorker)
        for slot in range(self.n):
            self._actors[slot] = self._cls.remote(self._spec)
        return [self._info(slot) for slot in range(self.n)]

    def _info(self, slot: int) -> dict[str, Any]:
        try:
            return self._ray.get(self._actors[slot].info.remote())
        except Exception as exc:  # noqa: BLE001
            raise DiscaError(f"Ray worker {slot}: {_ray_message(exc)}") from None

    def submit(self, slot: int, item: WorkItem) -> None:
        self._refs[slot] = self._actors[slot].process.remote(item)

    def wait(self, busy: Sequence[int], on_scenario: _OnScenario) -> list[tuple[int, _Outcome]]:
        ray = self._ray  # an actor reports its chunk when done: no per-scenario progress
        refs = {self._refs[s]: s for s in busy}
        ready, _ = ray.wait(list(refs), num_returns=1)
        out = []
        for ref in ready:
            slot = refs[ref]
            del self._refs[slot]
            try:
                records, stats = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                out.append((slot, _Outcome("dead", message=_ray_message(exc))))
            except ray.exceptions.RayError as exc:
                out.append((slot, _Outcome("error", message=_ray_message(exc))))
            else:
                out.append((slot, _Outcome("ok", records, stats)))
        return out

    def replace(self, slot: int) -> None:
        with contextlib.suppress(Exception):
            self._ray.kill(self._actors[slot], no_restart=True)
        self._actors[slot] = self._cls.remote(self._spec)
        self._info(slot)

    def close(self) -> None:
        ray = self._ray
        for slot, actor in enumerate(self._actors):
            if actor is not None:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
                self._actors[slot] = None
        self._refs.clear()
        if self._own_ray and ray.is_initialized():
            ray.shutdown()
            self._own_ray = False


# --------------------------------------------------------------------------- the loop


class Executor:
    """Runs work items on a backend's workers and yields their records.

    Use `make_executor`. ``start`` loads the models and returns each worker's model
    info (the caller checks they agree before writing anything); ``run`` is a
    generator of ``(item, records, engine stats)`` in completion order; ``close``
    stops the workers (in-flight items are dropped: a resumed run redoes them).
    """

    def __init__(self, backend: Any, kind: str) -> None:
        self.backend = backend
        self.kind = kind
        self.jobs = backend.n
        self.deaths = 0

    def start(self) -> list[dict[str, Any]]:
        """Load the model in every worker; returns their model infos, slot order."""
        return self.backend.start()

    def run(
        self,
        items: Iterable[WorkItem],
        on_submit: Callable[[WorkItem], None] | None = None,
        on_scenario: Callable[[WorkItem, int], None] | None = None,
    ) -> Iterator[tuple[WorkItem, list[dict[str, Any]], dict[str, int]]]:
        """Yield (item, records, engine stats) for every item, requeueing dead workers' items.

        ``on_submit(item)`` runs as an item goes out, ``on_scenario(item, k)`` when it has
        k scenarios done (local workers; a requeued item counts from 1 again).

        Raises:
            DiscaError: a worker reported an error, or one item killed its worker more
                than `MAX_DEATHS` times.
        """
        queue = deque(items)
        idle = list(range(self.backend.n))[::-1]
        busy: dict[int, WorkItem] = {}
        died: Counter[WorkItem] = Counter()

        def scenario_done(slot: int, k: int) -> None:
            if on_scenario is not None:
                on_scenario(busy[slot], k)

        while queue or busy:
            while idle and queue:
                slot, item = idle.pop(), queue.popleft()
                self.backend.submit(slot, item)
                busy[slot] = item
                if on_submit is not None:
                    on_submit(item)
            for slot, outcome in self.backend.wait(sorted(busy), scenario_done):
                item = busy.pop(slot)
                if outcome.kind == "ok":
                    idle.append(slot)
                    yield item, outcome.records, outcome.stats
                elif outcome.kind == "dead":
                    died[item] += 1
                    self.deaths += 1
                    if died[item] > MAX_DEATHS:
                        raise DiscaError(
                            f"{item.country} positions {list(item.positions)} killed its "
                            f"worker {died[item]} times ({outcome.message}); giving up"
                        )
                    log.warning(
                        "worker %d died (%s); replacing it and requeueing %s %s",
                        slot, outcome.message, item.country, list(item.positions),
                    )  # fmt: skip
                    self.backend.replace(slot)
                    queue.appendleft(item)
                    idle.append(slot)
                else:
                    raise DiscaError(f"worker {slot} failed: {outcome.message}")

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        self.backend.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    spec: WorkSpec,
    *,
    jobs: int = 1,
    executor: str = "local",
    address: str | None = None,
    engine: Any = None,
    model_info: Any = None,
) -> Executor:
    """An executor for ``jobs`` workers.

    Args:
        spec: the run's `WorkSpec`.
        jobs: workers (processes or actors), each with its own model.
        executor: ``local`` (this process for one job, spawned processes for more) or
            ``ray`` (actors; needs ``pip install 'disca-edge[ray]'``).
        address: Ray cluster address (``auto``, ``ray://host:10001``); default: a
            local Ray instance.
        engine: an already loaded engine for the inline backend (``jobs`` 1).
        model_info: ``engine``'s `models.ModelInfo.as_dict()`.

    Raises:
        DiscaError: unknown executor, jobs < 1, or Ray not installed.
    """
    if jobs < 1:
        raise DiscaError(f"--jobs must be >= 1, got {jobs}")
    if executor == "local":
        if jobs == 1:
            return Executor(_InlineBackend(spec, engine, model_info), "inline")
        if engine is not None:
            raise DiscaError("a loaded engine can only serve --jobs 1")
        return Executor(_ProcessBackend(spec, jobs), "process")
    if executor == "ray":
        if engine is not None:
            raise DiscaError("a loaded engine cannot be used with --executor ray")
        return Executor(_RayBackend(spec, jobs, address), "ray")
    raise DiscaError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")


def default_threads(jobs: int) -> int | None:
    """Threads per worker when not given: the CPUs shared out over the jobs (None for 1 job)."""
    if jobs <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // jobs)


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB"


def plan_jobs(
    jobs: int,
    n_items: int,
    *,
    threads: int | None,
    cpus: int,
    model_bytes: int | None = None,
    memory_bytes: int | None = None,
    here: bool = True,
) -> tuple[int, list[str]]:
    """How many workers to start for `n_items` work items, and what to warn about.

    A worker beyond the work items would only load the model, so ``jobs`` is capped at
    ``n_items`` (at least 1). On this machine (`here`: processes, or a local Ray
    instance) it warns when the workers' threads (``threads`` each, default: the CPUs
    shared out, `default_threads`) exceed the CPUs, and when several workers' copies of
    the model (``model_bytes`` each, the GGUF size) exceed the memory available.

    Returns:
        (workers to start, warning lines).
    """
    used = max(1, min(jobs, n_items))
    warnings = []
    if used < jobs:
        warnings.append(
            f"warning: --jobs {jobs} but only {n_items} work item(s) (chunks of --chunk "
            f"scenarios) are left to do; starting {used} worker(s)"
        )
    if not here:
        return used, warnings
    per_worker = threads or default_threads(used) or cpus
    if used * per_worker > cpus:
        warnings.append(
            f"warning: {used} worker(s) x {per_worker} thread(s) = {used * per_worker} "
            f"threads on {cpus} CPUs: they wait on each other, slower than fewer; use "
            f"--jobs {max(1, cpus // per_worker)} or fewer, or fewer --threads"
        )
    if used > 1 and model_bytes and memory_bytes and used * model_bytes > memory_bytes:
        warnings.append(
            f"warning: {used} workers load the model {used} times ({used} x "
            f"{_gb(model_bytes)} = {_gb(used * model_bytes)}) and {_gb(memory_bytes)} of "
            f"memory is available; use --jobs {max(1, memory_bytes // model_bytes)} or fewer"
        )
    return used, warnings


def check_workers_agree(infos: Sequence[Mapping[str, Any]], logit_settings: Sequence[str]) -> None:
    """Every worker must have the same model file and the same `logit_settings`.

    Args:
        infos: the workers' model info (``sha256``, ``settings``), worker 0 first.
        logit_settings: the engine settings that can change logits.

    Raises:
        DiscaError: a worker differs from worker 0.
    """
    first = infos[0]
    for i, info in enumerate(infos[1:], start=1):
        if info.get("sha256") != first.get("sha256"):
            raise DiscaError(f"worker {i} loaded another model file than worker 0")
        a, b = first.get("settings", {}), info.get("settings", {})
        diffs = [k for k in logit_settings if a.get(k) != b.get(k)]
        if diffs:
            raise DiscaError(
                f"worker {i} has other logit-relevant engine settings than worker 0 "
                f"({', '.join(diffs)}); its logits would differ"
            )
