"""The generated parts of docs/ are what the code says: the command line reference (from the parser, as
``--help``), the library API page (one mkdocstrings directive per public name, rendered from the docstrings).
``python -m onnpu.cli.reference`` rewrites them."""

from __future__ import annotations

import re
from pathlib import Path

import onnpu
from onnpu.cli import COMMANDS
from onnpu.cli.reference import DOCUMENTS, main, update

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "docs/reference/cli.md"
API = ROOT / "docs/reference/api.md"


def test_the_cli_page_is_what_the_parser_says() -> None:
    text = CLI.read_text(encoding="utf-8")
    assert update(text) == text, "stale: run `python -m onnpu.cli.reference`"
    verbs = [m.__name__.rsplit("cmd_", 1)[1].replace("_", "-") for m in COMMANDS]
    assert re.findall(r"^### `onnpu ([\w-]+)`$", text, re.M) == verbs  # below "## Every command and option"


def test_the_api_page_documents_every_public_name() -> None:
    text = API.read_text(encoding="utf-8")
    assert update(text) == text, "stale: run `python -m onnpu.cli.reference`"
    documented = re.findall(r"^::: onnpu\.(\w+)$", text, re.M)
    public = [name for name in onnpu.__all__ if name != "__version__"]
    assert sorted(documented) == sorted(public)


def test_the_reference_documents_are_the_ones_it_rewrites() -> None:
    assert "docs/reference/cli.md" in DOCUMENTS and "docs/reference/api.md" in DOCUMENTS
    for document in DOCUMENTS:
        assert main(["--check", str(ROOT / document)]) == 0, document


def test_a_document_without_markers_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# no markers\n", encoding="utf-8")
    assert main(["--check", str(page)]) == 2


def test_the_readme_links_to_files_that_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert "docs/quickstart.md" in links
    for link in links:
        assert (ROOT / link).is_file(), link
