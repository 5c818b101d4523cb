"""The public API is what the library reference page (docs/reference/api.md) says, whatever was imported before:
in a fresh process every onnpu module is imported first (a subpackage that shares a name with a function would
replace it then: ``onnpu.quantize`` was once the subpackage), then each public name is checked against that page's
table — functions by their signature, classes, errors and enums by what they are — and every ``onnpu.…()`` the
README and the docs show resolves to something callable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from onnpu import jsonio
from onnpu.cli.reference import API_BEGIN, API_END

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "docs/reference/api.md"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]  # every onnpu.…() they show must resolve

PROBE = r'''
import importlib, json, pkgutil, sys
import onnpu
for module in pkgutil.walk_packages(onnpu.__path__, "onnpu."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
from onnpu.cli.reference import api_markdown
names = json.loads(sys.stdin.read())
missing = []
for dotted in names:  # onnpu.a.b.c: import the longest module prefix, then get the attributes
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                value = getattr(value, attr)
        except AttributeError:
            value = None
        break
    if not callable(value):
        missing.append(dotted)
print(json.dumps({"reference": api_markdown(), "not_callable": missing}))
'''


def _documented_calls(text: str) -> list[str]:
    """Every ``onnpu.name(`` or ``onnpu.module.name(`` the README or a docs page shows as a call."""
    return sorted(set(re.findall(r"`(onnpu(?:\.\w+)+)\(", text)))


def test_public_names_are_what_the_readme_says_after_importing_everything() -> None:
    documented = API_PAGE.read_text(encoding="utf-8").split(API_BEGIN, 1)[1].split(API_END, 1)[0].strip()
    calls = _documented_calls("\n".join(p.read_text(encoding="utf-8") for p in DOCUMENTS))
    assert "onnpu.quantize" in calls and "onnpu.classify" in calls
    done = subprocess.run([sys.executable, "-c", PROBE], input=jsonio.dumps(calls), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = jsonio.loads(done.stdout.strip().splitlines()[-1])
    assert found["not_callable"] == [], "the docs call these, and they are not callable"
    assert found["reference"].strip() == documented, "the public API changed: `python -m onnpu.cli.reference README.md`"
    assert "| `onnpu.quantize` | function `quantize(model, out, calib, *, config=" in documented


def test_the_reference_tells_a_function_from_a_module() -> None:
    """What the fresh-process test relies on: a module where a function is documented would show as one."""
    import onnpu.quantization
    from onnpu.cli.reference import signature_text

    assert signature_text(onnpu.quantize).startswith("(model, out, calib, *, config=")
    assert not callable(onnpu.quantization)


SHADOW_PROBE = r'''
import importlib, json, pkgutil, types
import onnpu
names = [m.name for m in pkgutil.walk_packages(onnpu.__path__, "onnpu.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
shadowed = []
for name in names:
    parent, _, leaf = name.rpartition(".")
    if not isinstance(getattr(importlib.import_module(parent), leaf, None), types.ModuleType):
        shadowed.append(name)
print(json.dumps(shadowed))
'''


def test_no_module_is_shadowed_by_a_name_its_package_exports() -> None:
    """``import onnpu.a.b as m`` must give the module: a package exporting a function named like one of its
    modules (``detection.nms`` once did, and ``detection.decode``) hands the function to that import instead."""
    done = subprocess.run([sys.executable, "-c", SHADOW_PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert jsonio.loads(done.stdout.strip().splitlines()[-1]) == []
