from __future__ import annotations

import subprocess
import sys

import pytest

from onnpu import jsonio
from onnpu.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("command", [m.__name__.rsplit("cmd_", 1)[1].replace("_", "-") for m in COMMANDS])
def test_help_for_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: onnpu" in capsys.readouterr().out


VERBS = ["doctor", "inspect", "fix-shapes", "quantize", "prepare", "placement", "profile", "run", "simplify",
         "classify", "detect", "eval", "bench", "compare", "compile", "layers", "cache", "zoo", "demo"]


def test_parser_lists_every_verb_with_its_summary() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert list(sub.choices) == VERBS  # type: ignore[union-attr]
    lines = parser.format_help().splitlines()
    for action in sub._choices_actions:  # type: ignore[union-attr]
        assert any(line.split() and line.split()[0] == action.dest and action.help.split()[0] in line
                   for line in lines), action.dest


@pytest.mark.npu
def test_doctor_json_passes_selftest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    data = jsonio.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["selftest"]["passed"] is True
    assert data["selftest"]["max_abs_diff"] <= 0.02 + 1e-6
    assert data["qnn_mode"] in ("plugin", "builtin")


def test_python_dash_m_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "onnpu", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("onnpu ")
