"""``compile``: one compiled model (EP context) per SoC, each loaded on the NPU and checked against the exact
CPU QDQ arithmetic in output quantization steps; or one multi-SoC model, checked by the SoC records in its
binary (the HTP emulator cannot load those). A manifest lists every file with its SoC, HTP arch, versions
and SHA-256; ``run``, ``classify`` and ``bench`` given the folder pick the file for their SoC."""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from onnpu import jsonio
from onnpu._version import __version__
from onnpu.errors import OnnpuError
from onnpu.guards import room_for_writing, write_error
from onnpu.machine import htp_is_emulated
from onnpu.metrics import drift_in_steps
from onnpu.model.files import validate_model_file
from onnpu.model.inspection import tensor_infos
from onnpu.runtime.compiled import MANIFEST, compile_model, context_info
from onnpu.runtime.deployment import SCHEMA, file_record, source_record
from onnpu.runtime.feeds import run_feeds
from onnpu.runtime.inputs import random_feeds
from onnpu.runtime.qnn import qnn_status
from onnpu.runtime.session import create_session, exact_cpu_session
from onnpu.runtime.socs import Soc, choose_soc
from onnpu.runtime.targets import QNN, Target, get_target
from onnpu.storage import atomic_write, commit, output_dir


@dataclass
class CompiledEntry:
    soc: str
    soc_models: list[int]
    htp_arch: list[int]
    file: str
    files: dict[str, dict[str, Any]]  # every file of the entry → its SHA-256 and size
    size_bytes: int
    compile_seconds: float
    records: list[dict[str, Any]]
    compat: str | None
    check: str  # how it was verified
    load_seconds: float | None = None
    max_steps: dict[str, float | None] = field(default_factory=dict)  # per output: max |NPU − CPU| / its step
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    placement: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompileResult:
    source: str
    output_dir: str
    manifest: str
    entries: list[CompiledEntry]
    versions: dict[str, str | None]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "source": self.source, "output_dir": self.output_dir,
                "manifest": self.manifest, "versions": self.versions,
                "entries": [e.to_dict() for e in self.entries], "notes": self.notes}


class _Reference:
    """The source's exact CPU QDQ outputs on the check inputs and its output steps: the same for every SoC, so
    computed once, when the first compiled model is checked."""

    def __init__(self, source: Path, proto: onnx.ModelProto, feeds: list[dict[str, np.ndarray]]) -> None:
        self.source, self.proto, self.feeds = source, proto, feeds
        self.infos = {o.name: o for o in tensor_infos(proto)[1]}
        self._outputs: dict[str, list[np.ndarray]] | None = None

    @property
    def outputs(self) -> dict[str, list[np.ndarray]]:
        if self._outputs is None:
            self._outputs = run_feeds(exact_cpu_session(self.source), self.feeds, model=str(self.source))
        return self._outputs


def _verify(entry: CompiledEntry, path: Path, target: Target, reference: _Reference) -> None:
    """Load the compiled model on the NPU (timed) and compare with the exact CPU arithmetic of the source."""
    start = time.perf_counter()
    loaded = create_session(path, target)
    entry.load_seconds = time.perf_counter() - start
    placement = loaded.placement
    entry.placement = placement.headline() if placement else None
    if not reference.feeds:
        return
    loaded.proto = reference.proto  # the compiled model's I/O are the source's, whose Q/DQ say what they mean
    npu = run_feeds(loaded, reference.feeds, model=str(path))
    for name, values in reference.outputs.items():
        info = reference.infos.get(name)
        quant = info.quant if info else None
        drift = drift_in_steps(npu[name], values, quant.scale if quant else None, quant.axis if quant else None,
                               integer=info is not None and not np.issubdtype(info.numpy_dtype, np.floating),
                               bits=quant.bits if quant else 8)
        entry.max_abs_diff[name] = drift.max_abs_diff
        entry.max_steps[name] = drift.max_steps


def _carry_metadata(source: onnx.ModelProto, out: Path) -> None:
    """The compiled model keeps what the source says about its I/O: its metadata (preprocessing, task) and the
    quantization parameters of its inputs and outputs (the Q/DQ nodes that carried them are inside the context
    now), so the folder alone is enough to feed and read the model on a board."""
    from onnpu.model.files import metadata, set_metadata
    from onnpu.model.proto import load_model
    from onnpu.model.qparams import IO_QUANT_METADATA_KEY, io_quant_params
    from onnpu.runtime.compat import COMPAT_KEY

    qin, qout = io_quant_params(source)
    table = {name: {"scale": list(q.scale), "zero_point": list(q.zero_point), "dtype": q.dtype, "axis": q.axis}
             for name, q in {**qin, **qout}.items()}
    entries = {k: v for k, v in metadata(source).items() if k != COMPAT_KEY}
    if table:
        entries[IO_QUANT_METADATA_KEY] = jsonio.dumps(table)
    if not entries:
        return
    compiled = load_model(out)
    set_metadata(compiled, entries)
    atomic_write(out, compiled.SerializeToString())


def _publish(staging: Path, folder: Path) -> None:
    for item in sorted(staging.iterdir()):
        commit(item, folder / item.name)


def compile_for_socs(model: str | Path, out_dir: str | Path, socs: Sequence[str] = (), *, multi_soc: bool = False,
                     embed: bool = True, inputs: int = 2, seed: int = 0, allow_fallback: bool = False,
                     options: Mapping[str, str] | None = None, dims: Mapping[str, int] | None = None
                     ) -> CompileResult:
    """Compile ``model`` for each SoC in ``socs`` (default: the SoC onnpu would run on) into ``out_dir``."""
    src = Path(model)
    proto = validate_model_file(src)
    created = not Path(out_dir).exists()
    folder = output_dir(out_dir)
    try:
        return _compile_into(src, proto, folder, socs, multi_soc=multi_soc, embed=embed, inputs=inputs, seed=seed,
                             allow_fallback=allow_fallback, options=options, dims=dims)
    except BaseException as exc:
        if created:  # a failed compile (a full disk, Ctrl-C, a refused model) leaves no folder it made behind
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, OSError):
            full = room_for_writing(folder if folder.is_dir() else folder.parent)
            if full is not None:  # QNN and ONNX Runtime report a full disk in their own words: say it plainly
                raise write_error(full, "compiled model", folder) from exc
        raise


def _compile_into(src: Path, proto: onnx.ModelProto, folder: Path, socs: Sequence[str], *, multi_soc: bool,
                  embed: bool, inputs: int, seed: int, allow_fallback: bool, options: Mapping[str, str] | None,
                  dims: Mapping[str, int] | None) -> CompileResult:
    here = choose_soc(purpose="compile")  # the default SoC, and the board's own (on a board)
    chosen: list[Soc] = [choose_soc(s, purpose="compile").soc for s in socs] or [here.soc]
    chosen = list({s.soc_model: s for s in chosen}.values())
    reference = _Reference(src, proto, random_feeds(proto, max(0, inputs), seed, dims))  # each input in its range
    feeds = reference.feeds
    status = qnn_status()
    board = None if htp_is_emulated() else here.detected
    entries: list[CompiledEntry] = []
    notes: list[str] = []
    stem = src.name.removesuffix(".onnx")
    staging = Path(tempfile.mkdtemp(prefix=".onnpu-compile-", dir=folder))
    try:
        plan: list[tuple[str, list[Soc]]] = [(s.name.lower(), [s]) for s in chosen]
        if multi_soc:
            plan = [("multi", chosen)]
        for label, group in plan:
            target = get_target("npu", options, allow_fallback=allow_fallback, soc=group[0].name, purpose="compile")
            if len(group) > 1:  # QNN takes comma-separated soc_model lists for one multi-SoC context
                opts = {**target.options_dict, "soc_model": ",".join(str(s.soc_model) for s in group)}
                target = Target("npu", QNN, tuple(sorted(opts.items())), allow_fallback)
            out = staging / f"{stem}.{label}.onnx"
            seconds = compile_model(src, target, out, embed=embed, dims=dims)
            _carry_metadata(proto, out)
            info = context_info(out)
            files = [out.name, *info.binaries]
            entry = CompiledEntry(" + ".join(s.name for s in group), [s.soc_model for s in group],
                                  [s.htp_arch for s in group], out.name,
                                  {f: file_record(staging / f) for f in files},
                                  sum((staging / f).stat().st_size for f in files), seconds,
                                  [{"soc": n, "htp_arch": a} for n, a in info.records], info.compat, "")
            expected = {(s.name, s.htp_arch) for s in group}
            found = set(info.records)
            if len(group) > 1:
                entry.check = ("records only: one per SoC in the binary (a multi-SoC context cannot be run "
                               "here)") if expected <= found else \
                    f"records do not match: expected {sorted(expected)}, found {sorted(found)}"
            elif htp_is_emulated() or (board is not None and board.soc_model == group[0].soc_model):
                try:
                    _verify(entry, out, target, reference)
                except OnnpuError as exc:  # name what failed, not the staging file that is about to go
                    exc.message = (f"{src}: compiled for {entry.soc}, it failed its check on the NPU: "
                                   f"{exc.message.replace(str(out), out.name)}")
                    exc.args = (exc.message,)
                    raise
                where = "the HTP emulator" if htp_is_emulated() else "this board's NPU"
                entry.check = f"run on {where} vs the exact CPU arithmetic ({len(feeds)} inputs)" if feeds else \
                    f"loaded on {where} (no inputs run)"
            else:
                entry.check = "not run: compiled for another SoC than this board's"
            entries.append(entry)
        _publish(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    versions = {"onnpu": __version__, "onnxruntime": ort.__version__, "onnxruntime_qnn": status.plugin_version,
                "qnn_sdk": status.qnn_sdk_version, "machine": platform.machine()}
    manifest = {"schema": SCHEMA, "created": time.time(), "source": source_record(src), "versions": versions,
                "entries": [{"soc": e.soc, "soc_models": e.soc_models, "htp_arch": e.htp_arch, "file": e.file,
                             "files": e.files, "compat": e.compat, "records": e.records, "check": e.check,
                             "max_steps": e.max_steps} for e in entries]}
    atomic_write(folder / MANIFEST, jsonio.dumps(manifest, indent=1))
    if any((v or 0) > 1 + 1e-6 for e in entries for v in e.max_steps.values()):
        notes.append("an output is more than one quantization step from the exact CPU arithmetic: see max_steps")
    return CompileResult(str(src), str(folder), str(folder / MANIFEST), entries, versions, notes)
