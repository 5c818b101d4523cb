"""The command reference, generated from the parser itself (every verb, argument, default and choice that
``--help`` shows), as Markdown for the README, the documentation site and any other document (simonw/llm keeps
``docs/help.md`` so, with cog). The text is built from the argparse actions, not from ``--help``'s formatting,
so it is the same on every Python version and terminal width.

    python -m onnpu.cli.reference                      # rewrite every document that has markers (DOCUMENTS)
    python -m onnpu.cli.reference --check              # exit 1 when a block is not what the code says
    python -m onnpu.cli.reference README.md            # the README, and the docs/reference pages beside it

A document takes the reference between a ``BEGIN`` and an ``END`` marker line (:data:`BEGIN`, :data:`END`); each
verb's heading goes one level below the last heading before the marker. The library's public names go between
:data:`API_BEGIN` and :data:`API_END` as a table, or between :data:`DOCS_API_BEGIN` and :data:`DOCS_API_END` as
mkdocstrings directives grouped by layer (the site renders them from the docstrings).
``tests/test_cli_reference.py`` and ``tests/test_docs_pages.py`` fail when a block drifts from the code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

BEGIN = "<!-- BEGIN onnpu command reference: `python -m onnpu.cli.reference README.md` writes it; do not edit -->"
END = "<!-- END onnpu command reference -->"
API_BEGIN = "<!-- BEGIN onnpu library reference: `python -m onnpu.cli.reference README.md` writes it; do not edit -->"
API_END = "<!-- END onnpu library reference -->"
DOCS_API_BEGIN = "<!-- BEGIN onnpu library API: `python -m onnpu.cli.reference` writes it; do not edit -->"
DOCS_API_END = "<!-- END onnpu library API -->"
DOCUMENTS = ("README.md", "docs/reference/cli.md", "docs/reference/api.md")
"""The documents ``python -m onnpu.cli.reference`` without paths rewrites (those that exist, from the current
folder)."""

__all__ = ["API_BEGIN", "API_END", "BEGIN", "DOCS_API_BEGIN", "DOCS_API_END", "DOCUMENTS", "END", "api_docs_markdown",
           "api_markdown", "heading_below", "main", "reference_markdown", "replace_block", "update"]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _argument(action: argparse.Action) -> str:
    """``--target, -t TARGET`` / ``--no-cache`` / ``MODEL`` / ``{list,clear}`` as the reference shows it."""
    if not action.option_strings:
        if action.choices is not None and action.metavar is None:
            name = "{" + ",".join(map(str, action.choices)) + "}"
        else:
            name = str(action.metavar or action.dest).upper() if action.metavar is None else str(action.metavar)
        return name + ("..." if action.nargs in ("+", "*") else "") if action.nargs not in ("?",) else f"[{name}]"
    flags = ", ".join(sorted(action.option_strings, key=lambda s: not s.startswith("--")))
    if action.nargs == 0:
        return flags
    if action.choices is not None and action.metavar is None:
        return f"{flags} {{{','.join(map(str, action.choices))}}}"
    metavar = action.metavar or action.dest.upper()
    return f"{flags} {metavar}"


def _rows(actions: Sequence[argparse.Action], verb: bool) -> list[str]:
    rows = []
    for action in actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if verb and "--verbose" in action.option_strings:  # every verb takes it: listed once, as a global option
            continue
        what = action.help or ""
        if action.required and action.option_strings:
            what = f"(required) {what}"
        rows.append(f"| `{_cell(_argument(action))}` | {_cell(what)} |")
    return rows


def _table(title: str | None, actions: Sequence[argparse.Action], verb: bool = True) -> list[str]:
    rows = _rows(actions, verb)
    if not rows:
        return []
    head = [f"*{_cell(title)}*", ""] if title else []
    return [*head, "| argument | what it does |", "|---|---|", *rows, ""]


def _verbs(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    return {name: (helps.get(name, ""), p) for name, p in sub.choices.items()}


def reference_markdown(heading: str = "####") -> str:
    """Every verb of ``onnpu`` with its arguments, as Markdown (``heading`` is each verb's heading level)."""
    from onnpu.cli import build_parser

    parser = build_parser()
    lines = [f"{heading} Global options (before the command; `-v` also after it)", "",
             *_table(None, [a for a in parser._actions if not isinstance(a, argparse._SubParsersAction)], False)]
    plain = ("positional arguments", "options", "optional arguments")  # argparse's own groups (by version)
    for name, (summary, verb) in _verbs(parser).items():
        lines += [f"{heading} `onnpu {name}`", "", _cell(summary) + ("" if summary.endswith(".") else "."), ""]
        if verb.description:
            lines += [_cell(verb.description), ""]
        lines += _table(None, [a for g in verb._action_groups if g.title in plain for a in g._group_actions])
        for group in verb._action_groups:
            if group.title not in plain:
                lines += _table(group.title, group._group_actions)
    return "\n".join(lines).rstrip() + "\n"


def _default(value: object) -> str:
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return repr(value)
    return f"{type(value).__name__}(…)"


def signature_text(function: object) -> str:
    """``(model, out, calib, *, config=QuantizeConfig(…), io='float')``: parameter names, kinds and defaults
    (annotations left out: ``help()`` and the type checker have them)."""
    import inspect

    parts: list[str] = []
    star = False
    for p in inspect.signature(function).parameters.values():  # type: ignore[arg-type]
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        prefix = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        star = star or p.kind is p.VAR_POSITIONAL
        parts.append(prefix + p.name + ("" if p.default is p.empty else f"={_default(p.default)}"))
    return "(" + ", ".join(parts) + ")"


def api_markdown() -> str:
    """Every public name of ``onnpu`` (its ``__all__``): functions with their signatures, classes and errors with
    what they are, as one Markdown table."""
    import enum

    import onnpu
    from onnpu.errors import OnnpuError

    rows = ["| name | what it is |", "|---|---|"]
    for name in cast("list[str]", onnpu.__all__):
        value = getattr(onnpu, name)
        if isinstance(value, type) and issubclass(value, enum.Enum):
            what = "enum (" + ", ".join(f"{k} = {m.value}" for k, m in value.__members__.items()) + ")"
        elif isinstance(value, type) and issubclass(value, OnnpuError):
            what = "exception (" + ", ".join(b.__name__ for b in value.__bases__) + ")"
        elif isinstance(value, type):
            what = "class"
        elif callable(value):
            what = f"function `{name}{signature_text(value)}`"
        else:
            what = type(value).__name__
        rows.append(f"| `onnpu.{name}` | {_cell(what)} |")
    return "\n".join(rows) + "\n"


_LAYERS = (  # the public API grouped for a reader, by the subpackage that defines each name
    ("model", "Models: inspect, fix shapes, quantization parameters"),
    ("quantization", "Quantization"),
    ("runtime", "Targets, sessions and placement"),
    ("tasks", "End-to-end tasks: prepare, simplify, placement, compile, run, doctor, demo"),
    ("vision", "Images: classify"),
    ("measure", "Measure: bench, compare, layers, profile"),
    ("evaluation", "Accuracy on labelled data: eval"),
    ("errors", "Errors and exit codes"),
)


def api_docs_markdown(heading: str = "##") -> str:
    """Every public name of ``onnpu`` as a mkdocstrings directive (``::: onnpu.NAME``), grouped by the layer
    that defines it: its functions, then its classes."""
    import onnpu

    groups: dict[str, list[str]] = {layer: [] for layer, _ in _LAYERS}
    for name in sorted(cast("list[str]", onnpu.__all__), key=lambda n: (n[:1].isupper(), n)):  # functions first
        module = getattr(getattr(onnpu, name), "__module__", None)
        if not isinstance(module, str) or not module.startswith("onnpu."):
            continue  # __version__
        layer = module.split(".")[1]
        if layer not in groups:
            raise ValueError(f"onnpu.{name} is defined in {module}: add its layer to onnpu.cli.reference._LAYERS")
        groups[layer].append(name)
    lines: list[str] = []
    for layer, title in _LAYERS:
        if groups[layer]:
            lines += [f"{heading} {title}", ""]
            lines += [f"::: onnpu.{name}\n" for name in groups[layer]]
    return "\n".join(lines).rstrip() + "\n"


def heading_below(text: str, marker: str) -> str:
    """The heading prefix one level below the last Markdown heading before ``marker`` in ``text`` (``####``
    under ``### Command reference``; ``##`` under a page's ``#`` title), outside fenced code."""
    level, fenced = 1, False
    for line in text.split(marker, 1)[0].splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            hashes = len(line) - len(line.lstrip("#"))
            if hashes <= 6 and line[hashes:hashes + 1] == " ":
                level = hashes
    return "#" * min(level + 1, 6)


def update(text: str) -> str:
    """``text`` with every generated block it has markers for rewritten from the code."""
    if BEGIN in text:
        text = replace_block(text, reference_markdown(heading_below(text, BEGIN)))
    if API_BEGIN in text:
        text = replace_block(text, api_markdown(), API_BEGIN, API_END)
    if DOCS_API_BEGIN in text:
        text = replace_block(text, api_docs_markdown(heading_below(text, DOCS_API_BEGIN)), DOCS_API_BEGIN,
                             DOCS_API_END)
    return text


def replace_block(text: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with the part between the ``begin`` and ``end`` marker lines replaced by ``block``."""
    if begin not in text or end not in text:
        raise ValueError(f"the document has no markers {begin!r} … {end!r} (onnpu.cli.reference)")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n\n{block}\n{end}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [Path(a) for a in args if a != "--check"] or [p for p in map(Path, DOCUMENTS) if p.exists()]
    for readme in [p for p in paths if p.name == "README.md"]:  # the README's command keeps the docs current too
        paths += [p for p in (readme.parent / d for d in DOCUMENTS[1:]) if p.exists() and p not in paths]
    stale = []
    texts = {path: path.read_text(encoding="utf-8") for path in paths}
    marked = {path: text for path, text in texts.items()
              if BEGIN in text or API_BEGIN in text or DOCS_API_BEGIN in text}
    if not marked:
        print(f"{', '.join(map(str, paths))}: no onnpu.cli.reference markers", file=sys.stderr)
        return 2
    for path, text in marked.items():
        updated = update(text)
        if updated != text:
            stale.append(path)
            if not check:
                path.write_text(updated, encoding="utf-8")
    if check and stale:
        print(f"stale command reference in {', '.join(map(str, stale))}: run python -m onnpu.cli.reference "
              + " ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
