"""The package's shape: layers that point down, no import cycle, a command line that starts light, no module
bigger than it should be, nothing POSIX-only imported at module level."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "onnpu"
HEAVY = ("torch", "matplotlib", "onnxruntime.quantization", "skimage", "hypothesis")


def test_layers_point_down() -> None:
    """import-linter's layers contract (pyproject.toml): cli → tasks → zoo | measure → quantize → vision →
    runtime → model → storage | metrics | machine | paths → errors."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=SRC.parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_even_through_lazy_imports() -> None:
    import grimp

    graph = grimp.build_graph("onnpu")  # every import statement, inside functions too
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert _cycles(edges) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _modules_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_no_heavy_library() -> None:
    loaded = _modules_after("import onnpu.cli; onnpu.cli.build_parser()")
    for heavy in (*HEAVY, "onnx", "onnxruntime", "numpy", "rich"):
        assert heavy not in loaded, f"`import onnpu.cli` imported {heavy}"


def test_classify_on_the_cpu_imports_neither_torch_nor_the_quantizer(tmp_path: Path) -> None:
    """A real ``onnpu classify`` run (the path a new user times first) imports neither onnx nor ml_dtypes (the model
    is read by onnpu.model.proto), and it and the modules behind the other light verbs import none of the heavy
    libraries."""
    import numpy as np
    from PIL import Image

    from models import classifier, save

    model = save(classifier(), tmp_path / "cls.onnx")
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(image)
    code = (f"from onnpu.cli import main\nassert main(['classify', {str(image)!r}, '--model', {str(model)!r}, "
            "'--target', 'cpu', '--json']) == 0\n"
            "import sys\nassert 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules, 'it imported onnx'\n"
            "import onnpu.tasks.run, onnpu.model.inspection, onnpu.model.shapes, onnpu.tasks.explain_placement\n"
            "import onnpu.measure.bench, onnpu.vision.folder\n"
            "from onnpu.model._ort_tools import ort_tool\nort_tool('onnx_model_utils')\n")
    loaded = _modules_after(code)
    assert "onnxruntime" in loaded  # it did run
    for heavy in HEAVY:
        assert heavy not in loaded, f"classify imported {heavy}"


def test_no_module_is_too_big() -> None:
    sizes = {str(p.relative_to(SRC)): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 420} == {}


POSIX_ONLY = {"resource", "fcntl", "termios", "pwd", "grp", "posix", "pty", "tty"}


def test_no_posix_only_import_at_module_level() -> None:
    """Windows on Snapdragon is a QNN host: POSIX-only modules are imported only inside guarded functions."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n in POSIX_ONLY]
    assert offenders == []


def test_importing_the_zoo_builder_does_not_shadow_zoo_build() -> None:
    import onnpu.zoo.builder  # noqa: F401
    from onnpu import zoo

    assert callable(zoo.build) and zoo.build.__module__ == "onnpu.zoo"
