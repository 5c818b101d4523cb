"""``onnpu eval --ray auto|ADDRESS``: the same evaluation as a Ray Data job. The images (paths, readable at
the same place on every node: a shared filesystem) become a dataset; ``map_batches`` runs them through a
pool of actors, one per CPU of the cluster, each holding the :class:`~onnpu.evaluation.worker.Evaluator`
(one session per model × target). The models and the NPU contexts the driver compiled are put in the
object store once: each node fetches them once, whatever its number of actors, and installs them in its own
onnpu cache, so no node compiles. Ray Data restarts a killed actor and retries its batch; records are keyed
by image index, so a batch delivered twice counts once and a missing image is an error."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from onnpu import progress
from onnpu.errors import OnnpuError
from onnpu.evaluation.local import STAGE, Arrivals, chunk_size
from onnpu.evaluation.worker import TOP, EvalSpec, Evaluator, ItemRecord
from onnpu.model.files import model_files
from onnpu.paths import cache_area, lock_file
from onnpu.runtime.context_cache import cache_key, contexts_dir
from onnpu.storage import locked, sha256_file, staging_dir

Bundle = dict[str, dict[str, dict[str, bytes]]]  # "models" / "contexts" → name → file name → bytes


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise OnnpuError("--ray needs Ray", hint="pip install 'onnpu[ray]'") from exc
    return ray


def connect(address: str) -> dict[str, Any]:
    """Join the cluster at ``address`` (``auto``: the one this machine belongs to, else a new local one)."""
    ray = _ray()
    if not ray.is_initialized():
        options = {"log_to_driver": False, "logging_level": logging.WARNING}
        try:
            ray.init(address=address, **options)
        except ConnectionError as exc:
            if address != "auto":
                raise OnnpuError(f"cannot reach the Ray cluster at {address} ({exc})",
                                 hint="start it with `ray start --head`, or use --ray auto") from exc
            ray.init(include_dashboard=False, **options)
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no "execution finished" lines among onnpu's
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # onnpu draws one bar (onnpu.progress)
    context.print_on_execution_start = False
    nodes = [{"node": n["NodeID"][:12], "address": n["NodeManagerAddress"], "cpus": n["Resources"].get("CPU", 0)}
             for n in ray.nodes() if n.get("Alive")]
    return {"engine": "ray", "ray": ray.__version__, "address": address, "nodes": nodes,
            "cpus": int(sum(n["cpus"] for n in nodes))}


def bundle(spec: EvalSpec) -> Bundle:
    """The models' files and each NPU row's compiled context (already in this machine's cache: the driver
    opened every session before), as bytes."""
    models: dict[str, dict[str, bytes]] = {}
    contexts: dict[str, dict[str, bytes]] = {}
    for row in spec.rows:
        if row.model not in models and Path(row.model).is_file():
            models[row.model] = {p.name: p.read_bytes() for p in model_files(row.model)}
        if row.target.is_qnn and spec.cache and Path(row.model).is_file():
            key, _ = cache_key(Path(row.model), row.target, dict(spec.dims))
            folder = contexts_dir() / key
            if folder.is_dir():
                contexts[key] = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    return {"models": models, "contexts": contexts}


def _install(folder: Path, files: dict[str, bytes], lock: Path) -> None:
    """``files`` as ``folder``, unless it is there already (another actor of this node installed it)."""
    with locked(lock):
        if folder.is_dir():
            return
        with staging_dir(folder) as staging:
            for name, data in files.items():
                (staging / name).write_bytes(data)


def install(spec: EvalSpec, shipped: Bundle) -> EvalSpec:
    """Install the shipped models and contexts in this node's onnpu cache; the spec with the models' local
    paths. Where the model is already the same file (one machine, or a shared filesystem) it is used as is."""
    local: list[tuple[str, str]] = []
    for model, files in shipped["models"].items():
        path = Path(model)
        if path.is_file() and sha256_file(path) == _sha(files[path.name]):
            continue
        digest = _sha(b"".join(files[name] for name in sorted(files)))
        folder = cache_area("eval-models") / digest
        _install(folder, files, lock_file("eval-models", digest))
        local.append((model, str(folder / path.name)))
    for key, files in shipped["contexts"].items():
        _install(contexts_dir() / key, files, lock_file("contexts", key))
    return replace(spec, models_on_node=tuple(local))


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class EvalActor:
    """One Ray actor: installs what was shipped (once per node), opens the sessions, classifies batches."""

    def __init__(self, spec: EvalSpec, shipped: Any) -> None:
        ray = _ray()
        if isinstance(shipped, ray.ObjectRef):  # read from this node's object store (fetched once per node)
            shipped = ray.get(shipped)
        self.evaluator = Evaluator(install(spec, shipped))
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [(int(i), str(p)) for i, p in zip(batch["index"], batch["path"], strict=True)]
        records = self.evaluator.evaluate(items)
        rows = len(self.evaluator.rows)
        tops = np.full((len(records), rows, TOP), -1, np.int64)
        for k, record in enumerate(records):
            for r, top in enumerate(record.tops):
                tops[k, r, :len(top)] = top
        return {"index": np.array([r.index for r in records], np.int64), "tops": tops,
                "error": np.array([r.error or "" for r in records], dtype=object),
                "worker": np.array([self.where] * len(records), dtype=object)}


def run_ray(spec: EvalSpec, items: Sequence[tuple[int, str]], address: str, arrivals: Arrivals
            ) -> tuple[list[ItemRecord], dict[str, Any]]:
    cluster = connect(address)
    import ray.data

    actors = max(1, min(cluster["cpus"], len(items)))
    size = chunk_size(len(items), actors)
    shipped = ray.put(bundle(spec))  # once: each node pulls it into its object store once
    dataset = ray.data.from_items([{"index": i, "path": p} for i, p in items], override_num_blocks=max(
        1, min(len(items), 4 * actors)))
    mapped = dataset.map_batches(EvalActor, fn_constructor_args=(spec, shipped), batch_size=size,
                                 batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
                                 num_cpus=1)
    records: list[ItemRecord] = []
    workers: dict[str, int] = {}
    for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
        for index, tops, error, worker in zip(batch["index"], batch["tops"], batch["error"], batch["worker"],
                                              strict=True):
            records.append(ItemRecord(int(index), [] if error else [list(map(int, t)) for t in tops],
                                      str(error) or None))
            workers[str(worker)] = workers.get(str(worker), 0) + 1
        done = len({r.index for r in records})
        arrivals.arrived(done)
        progress.advance(STAGE, done, len(items))
    cluster.update({"actors": actors, "batch": size, "images_per_worker": workers,
                    "records_received": len(records)})
    return records, cluster
