"""The evaluation on this machine: in the calling process, or over worker processes (one per core by
default, each with its own sessions and one intra-op thread). Images go out in chunks; the records come back
keyed by image index, so the result does not depend on how many workers ran or in which order they finished."""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from onnpu import progress
from onnpu.errors import RunError
from onnpu.evaluation.worker import EvalSpec, Evaluator, ItemRecord

STAGE = "evaluating"
_WORKER: Evaluator | None = None


class Arrivals:
    """When results came back: the rate after the first arrival is the engine's steady throughput, without the
    fixed start (processes or actors started, sessions opened) that dominates small runs."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: tuple[float, int] | None = None
        self.last: tuple[float, int] = (self.start, 0)

    def arrived(self, total: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, total)
        self.last = (now, total)

    def to_dict(self) -> dict[str, float | None]:
        if self.first is None:
            return {"first_result_seconds": None, "steady_images_per_s": None}
        (t0, n0), (t1, n1) = self.first, self.last
        return {"first_result_seconds": t0 - self.start,
                "steady_images_per_s": (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else None}


def chunk_size(items: int, workers: int) -> int:
    """Small enough that every worker gets several chunks (an even finish), large enough to amortise the trip."""
    return max(1, min(32, math.ceil(items / (4 * max(1, workers)))))


def chunks(items: Sequence[tuple[int, str]], size: int) -> list[list[tuple[int, str]]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _start(spec: EvalSpec) -> None:
    global _WORKER
    _WORKER = Evaluator(spec)


def _evaluate(items: list[tuple[int, str]]) -> list[ItemRecord]:
    assert _WORKER is not None, "worker process started without its sessions"
    return _WORKER.evaluate(items)


def run_in_process(evaluator: Evaluator, items: Sequence[tuple[int, str]], arrivals: Arrivals) -> list[ItemRecord]:
    records: list[ItemRecord] = []
    for part in chunks(items, chunk_size(len(items), 1)):
        records += evaluator.evaluate(part)
        arrivals.arrived(len(records))
        progress.advance(STAGE, len(records), len(items))
    return records


def run_processes(spec: EvalSpec, items: Sequence[tuple[int, str]], workers: int, arrivals: Arrivals
                  ) -> list[ItemRecord]:
    """``workers`` processes (started fresh: ``spawn``, never a fork of a process holding sessions)."""
    context = multiprocessing.get_context("spawn")
    records: list[ItemRecord] = []
    parts = chunks(items, chunk_size(len(items), workers))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(spec,)) as pool:
        pending: set[Future[list[ItemRecord]]] = {pool.submit(_evaluate, part) for part in parts}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    records += future.result()
                arrivals.arrived(len(records))
                progress.advance(STAGE, len(records), len(items))
        except BrokenProcessPool as exc:
            raise RunError(f"a worker process ended abruptly ({exc})",
                           hint="out of memory? run with fewer --workers; with --workers 1 an error shows "
                                "where it happens") from exc
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return records
