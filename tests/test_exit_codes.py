"""The README's exit-code table, verb by verb: 0 success, 1 an error onnpu explains, 2 a wrong command line
(argparse, also a flag that does nothing in the mode asked), 3 refused (not fully on the NPU where that was
required), 4 a measured quality below the floor set, 5 partial (some cells or items failed, the rest ran).
130 (Ctrl-C) is in tests/test_interrupts.py; bench's and folder classify's 5 in test_bench / test_batch_classify."""

from __future__ import annotations

from pathlib import Path

import pytest

import detect_models
import models
from onnpu.cli import COMMANDS, main
from onnpu.errors import ExitCode

VERBS = [m.__name__.rsplit("cmd_", 1)[1].replace("_", "-") for m in COMMANDS]


@pytest.fixture(scope="module")
def f(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Path]) -> dict[str, str]:
    root = tmp_path_factory.mktemp("exit-codes")
    (root / "not-an-image.jpg").write_text("text")
    import shutil

    for tree, files in (("eval-ok", [photos["grace_hopper"]]), ("eval-partial", [photos["grace_hopper"],
                                                                                 root / "not-an-image.jpg"])):
        (root / tree / "3").mkdir(parents=True)  # class folders may be named by class number
        for file in files:
            shutil.copy(file, root / tree / "3" / Path(file).name)
    return {"float": str(models.save(models.float_conv(), root / "float.onnx")),
            "qdq": str(models.save(models.qdq_conv(), root / "qdq.onnx")),
            "cls": str(models.save(models.classifier(), root / "cls.onnx")),
            "det": str(detect_models.save(detect_models.square_detector(), root / "det.onnx")),
            "dyn": str(models.save(models.float_conv(batch="N"), root / "dyn.onnx")),
            "erf": str(models.save(models.never_on_htp(), root / "erf.onnx")),
            "missing": str(root / "missing.onnx"), "photo": str(photos["grace_hopper"]),
            "bad_image": str(root / "not-an-image.jpg"), "root": str(root)}


def _code(argv: list[str]) -> int:
    """main()'s exit code; argparse's usage errors leave through SystemExit(2)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


# verb -> [(expected code, argv with {placeholders})]; NPU cases are marked below
CASES: dict[str, list[tuple[int, str]]] = {
    "doctor": [(2, "doctor --socs --no-selftest"), (1, "doctor --soc nosuch --no-selftest"), (0, "doctor --socs")],
    "inspect": [(2, "inspect"), (1, "inspect {missing}"), (0, "inspect {float}")],
    "fix-shapes": [(2, "fix-shapes {dyn}"), (1, "fix-shapes {dyn} -o {root}/f.onnx --dim M=1"),
                   (0, "fix-shapes {dyn} -o {root}/f.onnx --dim N=1 --force")],
    "quantize": [(2, "quantize {float} -o {root}/q.onnx --calib random --rounding nearest --jobs 2"),
                 (1, "quantize {missing} -o {root}/q.onnx --calib random"),
                 (4, "quantize {float} -o {root}/q.onnx --calib random --rounding nearest --target-sqnr 300 --force"),
                 (0, "quantize {float} -o {root}/q.onnx --calib random --rounding nearest --force")],
    "prepare": [(2, "prepare {qdq} -o {root}/p.onnx --no-verify --verify-inputs 2"),
                (1, "prepare {float} -o {root}/p.onnx"),
                (3, "prepare {erf} -o {root}/p.onnx --calib random --rounding nearest --force"),
                (0, "prepare {qdq} -o {root}/p.onnx --force")],
    "placement": [(2, "placement {qdq} --iterations 2"), (1, "placement {missing}"),
                  (3, "placement {float} --require-full"), (0, "placement {qdq} --require-full")],
    "profile": [(2, "profile {qdq} --iterations 0"), (1, "profile {missing}"),
                (3, "profile {float} --no-fallback --out {root}/prof"),
                (0, "profile {float} --target cpu --iterations 1 --out {root}/prof")],
    "run": [(2, "run {float} --input x={root}/x.npy --seed 3"), (1, "run {missing}"),
            (3, "run {float} --target npu --no-fallback"), (0, "run {float} --target npu")],
    "simplify": [(2, "simplify {dyn} -o {root}/s.onnx --no-verify --seed 1"),
                 (1, "simplify {dyn} -o {root}/s.onnx --skip-fusion NoSuchPattern"),
                 (0, "simplify {dyn} -o {root}/s.onnx --dim N=1 --force")],
    "classify": [(2, "classify {photo} --model {cls} --top -2"), (1, "classify {bad_image} --model {cls}"),
                 (3, "classify {photo} --model {float} --target npu --no-fallback"),
                 (0, "classify {photo} --model {cls} --top 3 --threads 1")],
    "eval": [(2, "eval {cls} --data {root}/eval-ok --workers 0"), (1, "eval {cls} --data {root}/no-such-data"),
             (5, "eval {cls} --data {root}/eval-partial --workers 1"),
             (0, "eval {cls} --data {root}/eval-ok --workers 1")],
    "detect": [(2, "detect {photo} --model {det} --conf 2"), (1, "detect {photo} --model {cls}"),
               (0, "detect {photo} --model {det} --max-det 5")],
    "bench": [(2, "bench {cls} --target cpu --iterations 0"), (1, "bench {missing} --target cpu"),
              (3, "bench {float} --target npu --no-fallback -n 1"), (0, "bench {cls} --target cpu -n 2")],
    "compare": [(2, "compare {cls} --targets cpu,cpu --resize crop"), (1, "compare {missing} --targets cpu,cpu"),
                (0, "compare {cls} --targets cpu,cpu --count 1")],
    "compile": [(2, "compile {qdq} -o {root}/c --multi-soc --inputs 1"), (1, "compile {missing} -o {root}/c"),
                (3, "compile {float} -o {root}/c --soc qcs6490"), (0, "compile {qdq} -o {root}/c --soc qcs6490")],
    "layers": [(2, "layers {qdq} --target npu --top 3"), (1, "layers {missing} {qdq}"),
               (0, "layers {qdq} --target npu --count 1")],
    "cache": [(2, "cache tidy"), (0, "cache list")],
    "zoo": [(2, "zoo fetch"), (1, "zoo path no-such-model")],
    "demo": [(2, "demo --top 0")],
}
NPU_CASES = {("doctor", 1), ("prepare", 3), ("prepare", 0), ("placement", 3), ("placement", 0), ("profile", 3),
             ("run", 3), ("run", 0), ("classify", 3), ("bench", 3), ("compile", 3), ("compile", 0), ("layers", 0),
             ("layers", 2)}


def test_every_verb_has_its_codes() -> None:
    assert sorted(CASES) == sorted(VERBS)
    for verb, cases in CASES.items():
        codes = {code for code, _ in cases}
        assert {1, 2} <= codes or verb in ("cache", "demo"), verb  # cache has no input to get wrong


@pytest.mark.parametrize(("verb", "code", "command"), [
    pytest.param(verb, code, command, marks=[pytest.mark.npu] if (verb, code) in NPU_CASES else [],
                 id=f"{verb}-{code}")
    for verb, cases in CASES.items() for code, command in cases])
def test_exit_code(verb: str, code: int, command: str, f: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert code in {int(c) for c in ExitCode}
    if "{root}/x.npy" in command:
        import numpy as np

        np.save(Path(f["root"]) / "x.npy", np.zeros((1, 3, 16, 16), np.float32))
    got = _code(command.format(**f).split())
    captured = capsys.readouterr()
    assert got == code, captured.err[-1500:]
    if code == 1:  # an error onnpu explains: one error line and one hint
        assert captured.err.startswith("error: ") and "\nhint: " in captured.err
    if code == 2:
        assert "usage: onnpu" in captured.err and "error:" in captured.err
    if code == 3:
        assert "error: " in captured.err or "not fully" in captured.out or verb == "placement"


@pytest.mark.zoo
def test_demo_runs_the_columns_it_can_and_exits_5(zoo_model, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A SoC whose HTP this QNN cannot compile for: the NPU column says why, the CPU columns run (exit 5)."""
    monkeypatch.setenv("ONNPU_SOC", "qrb5165")
    assert main(["demo", "--top", "2"]) == ExitCode.PARTIAL
    captured = capsys.readouterr()
    assert "NPU quantized: did not run: QRB5165 has an HTP v66" in captured.out
    assert "CPU float" in captured.out and "652 military uniform" in captured.out
