"""The command reference (docs/reference/cli.md) is generated from the parser and may not drift from it (llm's
docs/help.md and cog, here with onnpu.cli.reference); the README and the reference page list every verb."""

from __future__ import annotations

import re
from pathlib import Path

from onnpu.cli import COMMANDS, build_parser
from onnpu.cli.reference import BEGIN, END, main, reference_markdown, replace_block

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLI_PAGE = ROOT / "docs/reference/cli.md"
VERBS = [m.__name__.rsplit("cmd_", 1)[1].replace("_", "-") for m in COMMANDS]


def test_the_reference_page_is_what_the_parser_says() -> None:
    text = CLI_PAGE.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == reference_markdown("###").strip(), "stale: run `python -m onnpu.cli.reference README.md`"
    assert main(["--check", str(CLI_PAGE)]) == 0, "stale: run `python -m onnpu.cli.reference README.md`"
    assert main(["--check", str(README)]) == 0  # the README's command keeps the docs pages current


def test_reference_lists_every_verb_and_every_argument() -> None:
    reference = reference_markdown()
    assert re.findall(r"^#### `onnpu ([\w-]+)`$", reference, re.M) == VERBS
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for verb, parser in sub.choices.items():  # type: ignore[union-attr]
        section = reference.split(f"#### `onnpu {verb}`", 1)[1].split("\n#### ", 1)[0]
        for action in parser._actions:
            if action.option_strings and action.help and "--help" not in action.option_strings \
                    and "--verbose" not in action.option_strings:
                assert f"`{action.option_strings[0]}" in section or f", {action.option_strings[0]}" in section, \
                    f"{verb} {action.option_strings}"


def test_every_verb_has_a_row_in_the_overviews() -> None:
    for page in (README, CLI_PAGE):
        text = page.read_text(encoding="utf-8").split(BEGIN, 1)[0]
        listed = re.findall(r"^\| `onnpu ([\w-]+)", text, re.M)
        assert sorted(set(listed)) == sorted(VERBS), page


def test_check_fails_on_a_stale_block_and_rewrites_it(tmp_path: Path) -> None:
    doc = tmp_path / "cli.md"
    doc.write_text(f"# CLI\n\n{BEGIN}\nold text\n{END}\n\nafter\n", encoding="utf-8")
    assert main(["--check", str(doc)]) == 1
    assert main([str(doc)]) == 0 and main(["--check", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# CLI\n") and text.endswith("\nafter\n") and "\n## `onnpu bench`" in text  # below "# CLI"
    assert replace_block(text, reference_markdown("##")) == text
