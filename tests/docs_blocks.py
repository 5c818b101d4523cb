"""Runnable documentation: shell blocks in docs/ that the tests run, and whose shown output is a real run's.

A page marks a fenced block runnable with a comment line right before it::

    <!-- runnable -->
    ```console
    $ onnpu inspect model.onnx
    model.onnx  IR 10, opsets ai.onnx 21, ...
    ```

Every ``$ `` line is a command (a trailing ``\\`` continues it on the next line), run by bash in one working
folder per page, in page order (a later block sees the files an earlier one wrote); the lines after it, up to
the next ``$ ``, are what it printed (stdout and stderr, as a terminal shows them). Every command must exit 0;
``<!-- runnable: exit=N -->`` expects N from the block's last command instead (an error a page shows on purpose).

The files a page's commands start from are declared before they are used:

* ``<!-- file: NAME from BUILDER -->`` writes NAME with one of :data:`BUILDERS` (the small models and the
  real photos the tests use), not shown to the reader;
* ``<!-- file: NAME -->`` right before a fenced block writes that block's text to NAME (a script or a labels
  file the reader sees and copies).

A page whose commands use the built-in model (``classify`` without ``--model``, ``demo``) says so with
``<!-- needs: zoo -->``: the tests build it once for the whole run (the ``zoo_model`` fixture) and every page
shares that cache. Paths inside the cache are shown as under ``~/.cache/onnpu`` (the default on Linux).

``python tests/docs_blocks.py --write [PAGE...]`` (``make docs-outputs``) runs every runnable block and
rewrites its shown output with what the run printed; ``--check`` (the default) exits 1 naming each block whose
output no longer matches. Outputs are compared after :func:`normalise`: timings, sizes, percentages, decimals,
dates and versions vary from run to run and machine to machine; words, integers and the layout do not
(tests/test_docs_blocks.py runs every page).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COLUMNS = 160  # the terminal width the shown outputs are rendered at (wide enough that rich tables do not wrap)

_RUNNABLE = re.compile(r"^<!-- runnable(?::\s*exit=(?P<exit>\d+))?\s*-->\s*$")
_FILE = re.compile(r"^<!-- file:\s*(?P<name>[^\s]+)(?:\s+from\s+(?P<builder>[\w-]+))?\s*-->\s*$")
_NEEDS = re.compile(r"^<!-- needs:\s*(?P<what>[\w, -]+?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>[\w-]*)")


def _model(build: Callable[[], object]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import models

        models.save(build(), path)  # type: ignore[arg-type]
    return write


def _photo(ref: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from onnpu.zoo.photos import photo_path

        shutil.copyfile(photo_path(ref), path)
    return write


def _crops(path: Path) -> None:
    from onnpu.zoo.photos import write_crops

    write_crops(path, per_photo=2, size=96)


LABELLED = {"matplotlib:grace_hopper.jpg": "military uniform", "skimage:chelsea.png": "tabby cat",
            "skimage:coffee.png": "espresso"}  # labelled by eye, with the names of the ImageNet-1k classes


def _labelled(path: Path) -> None:
    """An ImageFolder tree: one folder per class, 5 crops of each photo in LABELLED (the photo's own folder)."""
    from onnpu.zoo.photos import write_crops

    for ref, label in LABELLED.items():
        for crop in write_crops(path / "crops", per_photo=5, size=224, photos=(ref,)):
            (path / label).mkdir(parents=True, exist_ok=True)
            crop.rename(path / label / f"{crop.parent.name}_{crop.name}")
    shutil.rmtree(path / "crops")


def _square_detector() -> object:
    import detect_models

    return detect_models.square_detector()


def _scenes(path: Path) -> None:
    import detect_models

    path.mkdir(parents=True, exist_ok=True)
    detect_models.write_scenes(path)


def _classifier_dynamic() -> object:
    import models

    return models.classifier(batch="N")


def _classifier() -> object:
    import models

    return models.classifier()


def _hostile(path: Path) -> None:
    import hostile

    hostile.rewrite(hostile.with_external_data(path, "model.onnx"), location="/etc/passwd")


def _unsupported() -> object:
    import models

    return models.unsupported_op()


def _keyword_spotter() -> object:
    """A small keyword spotter on raw audio: waveform [1, 1, 8000] (0.5 s at 16 kHz) → 4 class logits."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    import models

    rng = np.random.default_rng(7)

    def weight(name: str, *shape: int) -> object:
        return numpy_helper.from_array(rng.normal(0, (2 / np.prod(shape[1:])) ** 0.5, shape).astype(np.float32), name)

    inits = [weight("frames.w", 16, 1, 64), weight("conv.w", 32, 16, 5), weight("fc.w", 4, 32),
             numpy_helper.from_array(np.zeros(4, np.float32), "fc.b")]
    nodes = [helper.make_node("Conv", ["waveform", "frames.w"], ["f"], strides=[32], name="frames"),
             helper.make_node("Relu", ["f"], ["fr"], name="frames_relu"),
             helper.make_node("Conv", ["fr", "conv.w"], ["c"], strides=[2], pads=[2, 2], name="conv"),
             helper.make_node("Relu", ["c"], ["cr"], name="conv_relu"),
             helper.make_node("GlobalAveragePool", ["cr"], ["g"], name="pool"),
             helper.make_node("Flatten", ["g"], ["v"], name="flatten"),
             helper.make_node("Gemm", ["v", "fc.w", "fc.b"], ["logits"], transB=1, name="fc")]
    return models._model(nodes, [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, [1, 1, 8000])],
                         [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])], inits,
                         "keyword_spotter")


def _tones(path: Path) -> None:
    import numpy as np

    from corpus import tone_clips

    np.savez(path, waveform=tone_clips(8000, 16000, count=24).reshape(24, 1, 8000))


def _encoder(path: Path) -> None:
    import models
    import test_transformer

    models.save(test_transformer._encoder(), path)


def _sentences(path: Path) -> None:
    import numpy as np

    import test_transformer
    from onnpu.storage import temporary_beside

    feeds = test_transformer._sentences(24, 0)
    with temporary_beside(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **{name: np.concatenate([feed[name] for feed in feeds]) for name in feeds[0]})


BUILDERS: dict[str, Callable[[Path], None]] = {
    # a float image classifier as exported from PyTorch: input x [N,3,32,32] with a dynamic batch, 10 classes
    "classifier": _model(_classifier_dynamic),
    "classifier-fixed": _model(_classifier),  # the same with the batch fixed to 1
    "photo": _photo("matplotlib:grace_hopper.jpg"),  # a real photo (Grace Hopper, 512x600 JPEG)
    "cat-photo": _photo("skimage:chelsea.png"),
    "photos": _crops,  # a folder of real photo crops, one subfolder per photo (calibration data)
    # a folder with a model.onnx whose weights are named as external data at /etc/passwd
    "hostile-model": _hostile,
    "unsupported": _model(_unsupported),  # a float model with a Unique node, which the QNN EP cannot run
    "keyword-spotter": _model(_keyword_spotter),
    "tones": _tones,  # 24 clips of notes with harmonics, 0.5 s at 16 kHz (.npz: waveform [24, 1, 8000])
    "labelled-photos": _labelled,  # ImageNet-style folder tree of 15 real photo crops, 3 classes labelled by eye
    # a detector of red (class 0) and blue (class 1) squares, YOLOv8 head [1, 6, 64], input x [1, 3, 64, 64]
    "square-detector": _model(_square_detector),
    "scenes": _scenes,  # 4 scenes of squares (PNG, 128x96) and their boxes as COCO annotations (annotations.json)
    # a BERT-style sentence encoder as torch exports it: int64 input_ids + attention_mask [1, 16], 2 heads, d=32
    "encoder": _encoder,
    "sentences": _sentences,  # 24 tokenized "sentences" for it (.npz: input_ids, attention_mask [24, 16])
}


@dataclass
class Command:
    line: int  # 1-based line of the page where the command starts
    text: list[str]  # the lines as written, ``$ `` and continuations included
    shown: list[str]  # the output lines the page shows

    @property
    def shell(self) -> str:
        first, *rest = self.text
        return "\n".join([first[2:], *rest])


@dataclass
class Block:
    line: int  # the line of the opening fence
    body: tuple[int, int]  # lines [start, end) of the page (0-based) between the fences
    commands: list[Command]
    exit: int = 0


@dataclass
class Fixture:
    line: int
    name: str
    builder: str | None = None
    content: str | None = None


@dataclass
class Page:
    path: Path
    lines: list[str]
    steps: list[Block | Fixture] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)

    @property
    def blocks(self) -> list[Block]:
        return [s for s in self.steps if isinstance(s, Block)]


def _fenced(lines: list[str], start: int) -> tuple[int, int, int] | None:
    """The fenced block opening at or after ``start`` (blank lines skipped): (open, body end, close line)."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    match = _FENCE.match(lines[i]) if i < len(lines) else None
    if match is None:
        return None
    fence = match["fence"]
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == fence:
            return i, j, j
    return None


def _commands(lines: list[str], first: int) -> list[Command]:
    commands: list[Command] = []
    continued = False
    for offset, line in enumerate(lines):
        if continued:
            commands[-1].text.append(line)
        elif line.startswith("$ "):
            commands.append(Command(first + offset + 1, [line], []))
        elif commands:
            commands[-1].shown.append(line)
        elif line.strip():
            raise ValueError(f"line {first + offset + 1}: a runnable block starts with a `$ ` command")
        continued = (continued or line.startswith("$ ")) and line.endswith("\\")
    return commands


def parse(path: Path, text: str | None = None) -> Page:
    """The fixtures and runnable blocks of a Markdown page, in page order."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).split("\n")
    page = Page(path, lines)
    i = 0
    while i < len(lines):
        runnable, file, needs = _RUNNABLE.match(lines[i]), _FILE.match(lines[i]), _NEEDS.match(lines[i])
        if needs:
            page.needs |= {w.strip() for w in needs["what"].split(",")}
        elif file and file["builder"]:
            if file["builder"] not in BUILDERS:
                raise ValueError(f"{path}:{i + 1}: unknown builder {file['builder']!r} (docs_blocks.BUILDERS: "
                                 + ", ".join(BUILDERS) + ")")
            page.steps.append(Fixture(i + 1, file["name"], builder=file["builder"]))
        elif file or runnable:
            found = _fenced(lines, i + 1)
            if found is None:
                raise ValueError(f"{path}:{i + 1}: {lines[i].strip()} is not followed by a fenced block")
            open_, end, close = found
            body = lines[open_ + 1:end]
            if file:
                page.steps.append(Fixture(i + 1, file["name"], content="\n".join(body) + "\n"))
            else:
                assert runnable is not None
                commands = _commands(body, open_ + 1)
                if not commands:
                    raise ValueError(f"{path}:{i + 1}: a runnable block without a `$ ` command")
                page.steps.append(Block(open_ + 1, (open_ + 1, end), commands, int(runnable["exit"] or 0)))
            i = close
        i += 1
    return page


# Figures that differ between two honest runs: durations and sizes (a number with its unit), percentages,
# decimals, dates and versions. Integers (node counts, shapes, class ids) stay and must match.
_UNITS = r"(?:ms|µs|us|ns|s|min|h|B|KB|MB|GB|KiB|MiB|GiB|%|×|x|it/s|/s|dB)"
_VARYING = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?"  # dates, times
    r"|(?<![\w.])[-+−]?\d+(?:\.\d+)+(?:e[-+]?\d+)?"  # decimals and dotted versions
    r"|(?<![\w.])[-+−]?\d+(?:e[-+]?\d+)?(?=\s?" + _UNITS + r"(?!\w))"  # integers with a unit
    r"|\b[0-9a-f]{12,64}\b"  # hashes
)
_SPACE = re.compile(r"[ \t─━═]+")


def normalise(text: str) -> str:
    """What two runs of the same command must agree on: ``#`` for each varying figure, one space for every
    run of spaces and of horizontal table rules (a wider number widens its column), no trailing spaces."""
    lines = [_SPACE.sub(" ", _VARYING.sub("#", line)).strip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def environment(cache: Path) -> dict[str, str]:
    """The environment the commands run in: this Python's scripts first on PATH, onnpu's cache in ``cache``,
    a fixed terminal width, no colours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONNPU_", "PYTEST_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", ONNPU_CACHE_DIR=str(cache),
               COLUMNS=str(COLUMNS), LINES="50", NO_COLOR="1", TERM="dumb", PYTHONPATH=str(ROOT / "tests"))
    return env


@dataclass
class Ran:
    command: Command
    output: list[str]
    code: int
    expected_code: int

    @property
    def matches(self) -> bool:
        return self.code == self.expected_code and normalise("\n".join(self.output)) == normalise(
            "\n".join(self.command.shown))


def _write_fixture(fixture: Fixture, work: Path) -> None:
    target = (work / fixture.name).resolve()
    if work.resolve() not in target.parents:
        raise ValueError(f"line {fixture.line}: fixture {fixture.name} is outside the page's folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    if fixture.builder is not None:
        BUILDERS[fixture.builder](target)
    else:
        target.write_text(fixture.content or "", encoding="utf-8")


def run(page: Page, work: Path, cache: Path, timeout: float = 600) -> list[Ran]:
    """Write the page's fixtures and run its blocks in ``work``, in page order."""
    env = environment(cache)
    results: list[Ran] = []
    for step in page.steps:
        if isinstance(step, Fixture):
            _write_fixture(step, work)
            continue
        for k, command in enumerate(step.commands):
            done = subprocess.run(["bash", "-c", command.shell], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
            text = done.stdout.replace(str(work) + os.sep, "").replace(str(work), ".")
            output = [line.rstrip() for line in text.replace(str(cache), "~/.cache/onnpu").split("\n")]
            while output and not output[-1]:
                output.pop()
            expected = step.exit if k == len(step.commands) - 1 else 0
            results.append(Ran(command, output, done.returncode, expected))
    return results


def rewrite(page: Page, results: Sequence[Ran]) -> str:
    """The page with the shown output of every command whose run printed something else (after
    :func:`normalise`) replaced by what it printed; outputs that still match stay as they are."""
    outputs = {id(r.command): r.command.shown if r.matches else r.output for r in results}
    lines = list(page.lines)
    for block in reversed(page.blocks):
        body: list[str] = []
        for command in block.commands:
            body += [*command.text, *outputs[id(command)]]
        lines[block.body[0]:block.body[1]] = body
    return "\n".join(lines)


def report(page: Page, results: Sequence[Ran]) -> list[str]:
    """One message per command whose exit code or output differs from the page."""
    problems = []
    for r in results:
        where = f"{page.path}:{r.command.line}: $ {r.command.shell}"
        if r.code != r.expected_code:
            problems.append(f"{where}\n  exit {r.code}, the page expects {r.expected_code}; it printed:\n"
                            + "\n".join(r.output[-30:]))
        elif not r.matches:
            problems.append(f"{where}\n  the page shows:\n" + "\n".join(r.command.shown)
                            + "\n  the run printed:\n" + "\n".join(r.output)
                            + "\n  (`python tests/docs_blocks.py --write` rewrites the shown outputs)")
    return problems


def pages(root: Path = DOCS) -> list[Path]:
    """The pages under ``root`` that have a runnable block, and the README's quick start."""
    found = sorted(p for p in root.rglob("*.md") if "<!-- runnable" in p.read_text(encoding="utf-8"))
    readme = root.parent / "README.md"
    return [*found, readme] if readme.is_file() and "<!-- runnable" in readme.read_text(encoding="utf-8") else found


def main(argv: Sequence[str] | None = None) -> int:
    from onnpu.paths import cache_dir

    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    paths = [Path(a).resolve() for a in args if not a.startswith("--")] or pages()
    failed = 0
    for path in paths:
        page = parse(path)
        with tempfile.TemporaryDirectory(prefix="onnpu-docs-") as tmp:
            (Path(tmp) / "work").mkdir()
            # onnpu's own cache (ONNPU_CACHE_DIR, else the user's): the built-in model is built there once
            results = run(page, Path(tmp) / "work", cache_dir())
        problems = report(page, results)
        if write:
            codes = [p for p in problems if "the page expects" in p]
            if codes:
                print("\n\n".join(codes), file=sys.stderr)
                failed += 1
                continue
            text = rewrite(page, results)
            if text != "\n".join(page.lines):
                path.write_text(text, encoding="utf-8")
                print(f"rewrote {path.relative_to(ROOT) if ROOT in path.parents else path}")
        elif problems:
            print("\n\n".join(problems), file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
