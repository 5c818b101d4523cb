"""A compiled folder is verified on every load: each file against the manifest (SHA-256, size), the context
binary's own records against its editable metadata, and the source model's fingerprint. Every damaged folder is
refused with one error naming the file and the command that rebuilds it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import models
from onnpu import ModelError, OnnpuError, TargetError, get_target
from onnpu.cli import main
from onnpu.paths import cache_dir
from onnpu.runtime.compiled import model_for_target
from onnpu.tasks.compile import compile_for_socs

pytestmark = pytest.mark.npu


@pytest.fixture(autouse=True)
def default_soc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ONNPU_SOC", raising=False)
    monkeypatch.delenv("ONNPU_SYSROOT", raising=False)
    monkeypatch.setenv("ONNPU_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compiled")
    src = models.save(models.qdq_conv(), folder / "conv.qdq.onnx")
    compile_for_socs(src, folder / "out", ["qcs6490", "qcs8550"], inputs=0)
    return folder


def _copy(compiled: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A fresh copy of the source and its compiled folder, the manifest pointing at the copied source."""
    shutil.copy(compiled / "conv.qdq.onnx", tmp_path / "conv.qdq.onnx")
    shutil.copystat(compiled / "conv.qdq.onnx", tmp_path / "conv.qdq.onnx")
    out = shutil.copytree(compiled / "out", tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["source"]["path"] = str(tmp_path / "conv.qdq.onnx")
    (out / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path / "conv.qdq.onnx", out


def _ctx(out: Path) -> Path:
    return out / "conv.qdq.qcs6490.onnx"


def _flip_byte(out: Path) -> None:
    data = bytearray(_ctx(out).read_bytes())
    data[len(data) // 2] ^= 0x01
    _ctx(out).write_bytes(bytes(data))


def _zero_block(out: Path) -> None:
    data = bytearray(_ctx(out).read_bytes())
    start = len(data) // 4
    data[start:start + 16384] = bytes(16384)
    _ctx(out).write_bytes(bytes(data))


def _edit_sha(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    record = manifest["entries"][0]["files"]["conv.qdq.qcs6490.onnx"]
    record["sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))


def _truncate(out: Path) -> None:
    data = _ctx(out).read_bytes()
    _ctx(out).write_bytes(data[: len(data) - 1000])


def _delete(out: Path) -> None:
    _ctx(out).unlink()


def _relabel(path: Path, soc_model: str) -> None:
    """The compatibility string's soc_model edited (93, QCS6490 → 66, QCS8550): the binary stays QCS6490's."""
    from onnpu.model.proto import load_model

    model = load_model(path)
    for prop in model.metadata_props:
        if prop.key == "ep_compatibility_info.QNNExecutionProvider":
            prop.value = prop.value.replace(":0:93:", f":0:{soc_model}:")
    path.write_bytes(model.SerializeToString())


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped byte": (_flip_byte, "its SHA-256 is not the one in manifest.json"),
    "zeroed block": (_zero_block, "its SHA-256 is not the one in manifest.json"),
    "edited manifest SHA-256": (_edit_sha, "its SHA-256 is not the one in manifest.json"),
    "truncated": (_truncate, "bytes, the manifest says"),
    "deleted": (_delete, "missing from the compiled folder"),
    "relabelled SoC": (lambda out: _relabel(_ctx(out), "66"), "its SHA-256 is not the one in manifest.json"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_every_damaged_folder_is_refused_naming_the_file_and_the_fix(compiled: Path, tmp_path: Path,
                                                                      case: str) -> None:
    src, out = _copy(compiled, tmp_path)
    model_for_target(out, get_target("npu"))  # verified (and remembered) before the damage
    damage, says = DAMAGE[case]
    damage(out)
    with pytest.raises(OnnpuError) as info:
        model_for_target(out, get_target("npu"))
    assert says in str(info.value) and "conv.qdq.qcs6490.onnx" in str(info.value)
    assert info.value.hint == f"rebuild it: `onnpu compile {src} --soc qcs6490 -o {out}`"
    model_for_target(out, get_target("npu", soc="qcs8550"))  # the other SoC's file is untouched: it loads


def test_the_cli_says_it_in_one_error_line_with_the_rebuild_command(compiled: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    src, out = _copy(compiled, tmp_path)
    _truncate(out)
    assert main(["run", str(out), "--target", "npu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"error: {_ctx(out)}: has ") and "truncated" in err[0]
    assert err[1] == f"hint: rebuild it: `onnpu compile {src} --soc qcs6490 -o {out}`" and len(err) == 2


def test_metadata_relabelled_to_another_soc_is_caught_by_the_binary_records(compiled: Path, tmp_path: Path) -> None:
    _, out = _copy(compiled, tmp_path)
    _relabel(_ctx(out), "66")
    lone = tmp_path / "lone.onnx"  # the file alone, no manifest to compare with: its binary still says QCS6490
    shutil.copy(_ctx(out), lone)
    with pytest.raises(TargetError, match=r"metadata says soc_model 66, but its context binary was compiled for "
                                          r"QCS6490 \(HTP v68\)"):
        model_for_target(lone, get_target("npu", soc="qcs8550"))
    # with the manifest's SHA-256 and size brought in line too, the manifest's own SoC still disagrees
    manifest = json.loads((out / "manifest.json").read_text())
    from onnpu.runtime.deployment import file_record

    manifest["entries"][0]["files"][_ctx(out).name] = file_record(_ctx(out))
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TargetError, match="metadata says soc_model 66, the manifest 93"):
        model_for_target(out, get_target("npu"))


def test_a_changed_source_says_recompile_and_a_missing_one_is_fine(compiled: Path, tmp_path: Path) -> None:
    src, out = _copy(compiled, tmp_path)
    os.utime(src, ns=(1, 1))  # touched but unchanged: the SHA-256 decides
    model_for_target(out, get_target("npu"))
    models.save(models.single_conv(), src)
    with pytest.raises(ModelError, match=rf"^recompile: {src} changed after {out} was compiled from it$"):
        model_for_target(out, get_target("npu"))
    src.unlink()  # a folder copied to a board travels without its source
    path, _, info = model_for_target(out, get_target("npu"))
    assert path == _ctx(out) and info is not None and info.records == [("QCS6490", 68)]


def test_verification_is_remembered_by_path_size_and_mtime(compiled: Path, tmp_path: Path) -> None:
    _, out = _copy(compiled, tmp_path)
    markers = (cache_dir() / "verified").glob
    model_for_target(out, get_target("npu"))
    before = set(markers("*.ok"))
    model_for_target(out, get_target("npu"))  # files modified in the last seconds are verified, not remembered
    assert set(markers("*.ok")) == before
    for file in out.iterdir():
        os.utime(file, ns=(1_000_000_000, 1_000_000_000))
    model_for_target(out, get_target("npu"))
    [marker] = set(markers("*.ok")) - before
    model_for_target(out, get_target("npu"))  # the same state: the same marker, nothing new
    assert set(markers("*.ok")) - before == {marker}
    _flip_byte(out)  # a new mtime: verified again, and refused
    with pytest.raises(ModelError, match="SHA-256"):
        model_for_target(out, get_target("npu"))


def test_another_tools_manifest_beside_a_model_is_not_a_compile_manifest(tmp_path: Path) -> None:
    src = models.save(models.qdq_conv(), tmp_path / "conv.qdq.onnx")
    (tmp_path / "manifest.json").write_text(json.dumps({"model": "conv.qdq.onnx", "sha256": "0" * 64}))
    path, _, info = model_for_target(src, get_target("npu"))
    assert path == src and info is None


def test_load_a_folder_runs_and_classifies_without_importing_onnx(tmp_path: Path) -> None:
    """``onnpu.load(DIR)`` in a fresh process, the source model gone (as on a board): the folder alone carries the
    I/O quantization and preprocessing; run() takes float data for the uint8 input and gives float logits equal
    to the exact CPU arithmetic of the source, classify() reads a photo; onnx is never imported."""
    import subprocess
    import sys

    import numpy as np
    import onnx
    from PIL import Image

    from onnpu.runtime.session import exact_cpu_session

    src = models.aihub_style_classifier(tmp_path)
    proto = onnx.load(str(src))
    del proto.metadata_props[:]  # no onnpu metadata: the I/O parameters come from the source's own Q/DQ
    src = models.save(proto, tmp_path / "plain.onnx")
    compile_for_socs(src, tmp_path / "out", ["qcs8550"], inputs=1)
    x = np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    reference = exact_cpu_session(src)
    from onnpu.model.inspection import tensor_infos
    from onnpu.runtime.feeds import float_outputs, prepare_feeds

    feeds, _ = prepare_feeds(tensor_infos(reference.proto)[0], {"x": x}, "plain")
    want = float_outputs(reference, reference.run(feeds))["logits"]
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    src.unlink()
    code = (f"import sys, numpy as np, onnpu\nm = onnpu.load({str(tmp_path / 'out')!r}, soc='qcs8550')\n"
            f"out = m.run({{'x': np.load({str(tmp_path / 'x.npy')!r})}})\n"
            f"np.save({str(tmp_path / 'y.npy')!r}, out['logits'])\n"
            f"r = m.classify([{str(tmp_path / 'p.png')!r}], top=3)\nassert len(r.images[0].top) == 3\n"
            "assert 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules, 'onnx was imported'\n"
            "print(m.path.name, out['logits'].dtype)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["plain.qcs8550.onnx", "float32"]
    got = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(got, want, atol=float(np.abs(want).max()) * 0.02 + 0.05)
