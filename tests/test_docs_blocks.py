"""Docs that cannot go stale: every runnable shell block in docs/ runs here, on the small models and real photos
the tests make, and what it prints must be what the page shows (up to timings and other varying figures:
docs_blocks.normalise). `python tests/docs_blocks.py --write` (make docs-outputs) rewrites the shown outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

import docs_blocks
from docs_blocks import normalise, parse, report, rewrite, run

PAGES = docs_blocks.pages()


@pytest.mark.parametrize(("page", "steps"), [
    ("docs/quickstart.md", ("inspect", "prepare", "placement", "compile", "run")),
    ("README.md", ("inspect", "prepare", "placement", "compile", "run"))])
def test_the_quick_starts_are_runnable(page: str, steps: tuple[str, ...]) -> None:
    assert docs_blocks.ROOT / page in PAGES
    blocks = parse(docs_blocks.ROOT / page).blocks
    commands = [c.shell.split()[:2] for b in blocks for c in b.commands]
    for step in steps:
        assert ["onnpu", step] in commands, step


def _param(page: Path) -> object:
    marks = [pytest.mark.npu] + ([pytest.mark.zoo] if "zoo" in parse(page).needs else [])
    return pytest.param(page, marks=marks, id=str(page.relative_to(docs_blocks.ROOT)))


@pytest.mark.parametrize("page", [_param(p) for p in PAGES])
def test_runnable_blocks_print_what_the_page_shows(page: Path, tmp_path: Path, request: pytest.FixtureRequest,
                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    parsed = parse(page)
    if "zoo" in parsed.needs:
        request.getfixturevalue("zoo_model")  # built once for the run, in the cache every page shares
    (tmp_path / "work").mkdir()
    results = run(parsed, tmp_path / "work", tmp_path_factory.getbasetemp() / "onnpu-cache")
    assert len(results) == sum(len(b.commands) for b in parsed.blocks)
    problems = report(parsed, results)
    assert not problems, "\n\n".join(problems)


PAGE = """# A page

<!-- file: hello.txt -->
```text
hello from a fixture
```

<!-- file: model.onnx from classifier -->
<!-- runnable -->
```console
$ cat hello.txt
hello from a fixture
$ python -c "print('took 1.25 s, 3 of 3 nodes'); print('12 ms')"
took 0.91 s, 3 of 3 nodes
7 ms
```

Text between blocks.

<!-- runnable: exit=3 -->
```console
$ ls model.onnx && \\
  exit 3
model.onnx
```
"""


def test_a_page_runs_in_order_and_matches_up_to_varying_figures(tmp_path: Path) -> None:
    page = parse(tmp_path / "page.md", PAGE)
    assert [type(s).__name__ for s in page.steps] == ["Fixture", "Fixture", "Block", "Block"]
    assert [c.line for b in page.blocks for c in b.commands] == [11, 13, 22]
    assert page.blocks[1].exit == 3 and page.blocks[1].commands[0].shell == "ls model.onnx && \\\n  exit 3"
    (tmp_path / "work").mkdir()
    results = run(page, tmp_path / "work", tmp_path / "cache")
    assert [r.code for r in results] == [0, 0, 3]
    assert results[1].output == ["took 1.25 s, 3 of 3 nodes", "12 ms"]
    assert report(page, results) == []
    assert (tmp_path / "work" / "model.onnx").stat().st_size > 1000  # built by the classifier builder


def test_a_wrong_output_a_wrong_count_or_a_wrong_exit_code_fails(tmp_path: Path) -> None:
    wrong = (PAGE.replace("hello from a fixture\n$", "hello from another fixture\n$")
             .replace("took 0.91 s, 3 of 3", "took 0.91 s, 2 of 3").replace("exit=3", "exit=4"))
    page = parse(tmp_path / "page.md", wrong)
    (tmp_path / "work").mkdir()
    problems = report(page, run(page, tmp_path / "work", tmp_path / "cache"))
    assert len(problems) == 3
    assert "page.md:11: $ cat hello.txt" in problems[0] and "hello from another fixture" in problems[0]
    assert "2 of 3" in problems[1] and "exit 3, the page expects 4" in problems[2]


def test_write_rewrites_only_the_shown_outputs(tmp_path: Path) -> None:
    stale = PAGE.replace("took 0.91 s, 3 of 3 nodes\n7 ms\n", "old output\n")
    page = parse(tmp_path / "page.md", stale)
    (tmp_path / "work").mkdir()
    results = run(page, tmp_path / "work", tmp_path / "cache")
    assert len(report(page, results)) == 1
    fresh = rewrite(page, results)
    assert fresh == PAGE.replace("took 0.91 s", "took 1.25 s").replace("7 ms", "12 ms")
    page = parse(tmp_path / "page.md", PAGE)
    assert rewrite(page, run(page, tmp_path / "work", tmp_path / "cache")) == PAGE  # matching outputs stay as shown
    again = parse(tmp_path / "page.md", fresh)
    assert report(again, run(again, tmp_path / "work", tmp_path / "cache")) == []


def test_normalise_keeps_words_integers_and_layout() -> None:
    assert normalise("session 19 ms; run median 0.68 ms over 1 iteration  \n\n") == normalise(
        "session 203 ms; run median 20.46 ms over 1 iteration")
    assert normalise("│ logits │   46.61 │ 100.0% │") == normalise("│ logits │ 146.61 │  87.5% │")
    assert normalise("┏━━━━┳━━┓") == normalise("┏━━━━━━┳━━┓")
    assert normalise("onnxslim 0.1.98 on 2026-12-02, sha256 0123456789abcdef0123") == normalise(
        "onnxslim 0.2.0 on 2027-01-31, sha256 fedcba9876543210fedc")
    assert normalise("17 of 17 nodes") != normalise("16 of 17 nodes")
    assert normalise("[1, 3, 64, 64]") != normalise("[1, 3, 32, 32]")
    assert normalise("model_npu.qcs6490.onnx, HTP v68") != normalise("model_npu.qcs8550.onnx, HTP v73")


def test_malformed_markers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown builder 'nope'"):
        parse(tmp_path / "p.md", "<!-- file: x from nope -->\n")
    with pytest.raises(ValueError, match="not followed by a fenced block"):
        parse(tmp_path / "p.md", "<!-- runnable -->\ntext\n")
    with pytest.raises(ValueError, match="starts with a `\\$ ` command"):
        parse(tmp_path / "p.md", "<!-- runnable -->\n```console\noutput first\n$ true\n```\n")
    page = parse(tmp_path / "p.md", "<!-- file: ../outside.txt -->\n```\nx\n```\n")
    with pytest.raises(ValueError, match="outside the page's folder"):
        run(page, tmp_path, tmp_path / "cache")
