"""The documentation site builds strictly (a broken link, a missing page or anchor, a missing included file
fails), offline, and works in a browser: headless Chromium (Debian's, driven by playwright) opens the quick
start and searches for a command."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    done = build(ROOT / "mkdocs.yml", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    return out


def test_every_page_is_built(site: Path) -> None:
    pages = sorted(p.relative_to(ROOT / "docs").with_suffix("") for p in (ROOT / "docs").rglob("*.md"))
    for page in pages:
        html = site / ("index.html" if page.name == "index" else page / "index.html")
        assert html.is_file(), page
    cli = (site / "reference/cli/index.html").read_text(encoding="utf-8")
    assert 'id="onnpu-classify"' in cli and "--top" in cli
    api = (site / "reference/api/index.html").read_text(encoding="utf-8")
    assert 'id="onnpu.quantize"' in api and "calib" in api  # rendered from the docstring and signature
    bench = (site / "reference/benchmarks/index.html").read_text(encoding="utf-8")
    first = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
    assert first in bench  # included, not copied


def test_a_broken_link_or_a_missing_include_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "BENCHMARKS.md", tmp_path / "BENCHMARKS.md")
    page = tmp_path / "docs/index.md"
    original = page.read_text(encoding="utf-8")
    page.write_text(original + "\nSee [the missing page](nowhere.md).\n", encoding="utf-8")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "nowhere.md" in done.stderr
    page.write_text(original, encoding="utf-8")
    (tmp_path / "BENCHMARKS.md").unlink()
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0 and "BENCHMARKS.md" in done.stderr


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(site: Path) -> Iterator[str]:
    """The site over HTTP on the loopback interface (the search index is fetched by a web worker, which a
    file:// page may not do)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("ONNPU_REQUIRE_CHROMIUM") == "1":  # .ci/run installed it: it must be found
            pytest.fail("ONNPU_REQUIRE_CHROMIUM=1 but no chromium on PATH", pytrace=False)
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    return browser


def test_quick_start_renders_and_search_finds_a_command(served: str) -> None:
    from playwright.sync_api import sync_playwright

    browser_path = _chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{served}/quickstart/")
            assert page.locator("h1").first.inner_text().rstrip("¶") == "Quick start: your model on the NPU"
            code = page.locator(".md-content pre code").all_inner_texts()
            assert any("$ onnpu prepare model.onnx" in block and "wrote model_npu.onnx" in block for block in code)
            assert page.locator(".md-nav__link", has_text="Command line").count() > 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs-quickstart.png"))

            page.goto(f"{served}/?q=classify")  # the theme opens the search with the query
            page.wait_for_selector(".md-search-result__item", timeout=30_000)
            links = [a.get_attribute("href") or "" for a in page.locator(".md-search-result__item a").all()]
            assert any("reference/cli/" in link and "#onnpu-classify" in link for link in links), links
            page.screenshot(path=str(ARTIFACTS / "docs-search.png"))
            assert errors == []
        finally:
            browser.close()
