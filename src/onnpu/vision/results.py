"""The results file of folder classify (CSV or JSONL, one row per image, flushed as it goes) and the record of
the run that wrote it (``<results>.onnpu.json`` beside it: model hash, output, scores, top-k, labels,
preprocessing, decoding, target).

``--resume`` never corrupts a results file: it refuses a file written with other settings (naming what
differs), keeps only the complete rows of classified images (a line cut by the interruption and the rows of
images that failed are dropped, atomically, so those images are classified again), then appends."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from onnpu import jsonio
from onnpu.errors import OutputError
from onnpu.guards import check_destination, exclusive_output, write_error
from onnpu.storage import atomic_write, commit, new_temp

RECORD_SCHEMA = "onnpu.classify-results/1"
Top = list[tuple[int, str, float]]


def record_path(results: Path) -> Path:
    return results.with_name(results.name + ".onnpu.json")


def _csv_header(top: int) -> list[str]:
    header = ["image", "status"]
    for k in range(1, top + 1):
        header += [f"top{k}_index", f"top{k}_label", f"top{k}_score"]
    return header


def _differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed between the run that wrote a results file and this one, in words."""
    found = []
    if before.get("model_sha256") != now.get("model_sha256"):
        same_path = before.get("model") == now.get("model")
        found.append(f"model ({now.get('model')}: changed since)" if same_path else
                     f"model ({before.get('model')} then, {now.get('model')} now)")
    for key, name in (("output", "output"), ("scores", "scores"), ("top", "top-k"), ("labels", "labels"),
                      ("draft", "JPEG draft decoding"), ("target", "target"),
                      ("decoding", "head and thresholds")):
        if before.get(key) != now.get(key):
            found.append(f"{name} ({before.get(key)} then, {now.get(key)} now)")
    if before.get("preprocess") != now.get("preprocess"):
        found.append("preprocessing")
    return found


class ResultWriter:
    """Streams one row per image to CSV or JSONL, flushed as it goes; on resume, knows which images an
    earlier run classified. Other verbs' results (``detect``) override ``schema``, ``suffixes``, ``_row`` and
    ``_parse``."""

    schema = RECORD_SCHEMA
    suffixes: tuple[str, ...] = (".csv", ".jsonl")

    def __init__(self, path: Path, top: int, resume: bool, record: dict[str, Any],
                 inputs: Iterable[str | Path] = ()) -> None:
        """``inputs``: the command's input files (model, labels …), which the results may never replace.
        The results path is never written through a link; one onnpu process at a time writes it (a second
        one, ``--resume`` or not, is refused)."""
        if path.suffix.lower() not in self.suffixes:
            raise OutputError(f"{path}: results go to a {' or '.join(self.suffixes)} file",
                              hint=f"e.g. -o results{self.suffixes[0]}")
        if not path.parent.is_dir():
            raise OutputError(f"{path}: the folder {path.parent} does not exist", hint="create it first")
        check_destination(path, inputs=inputs, what="results")
        check_destination(record_path(path), inputs=inputs, what="run record")
        self.path, self.top = path, top
        self.jsonl = path.suffix.lower() == ".jsonl"
        self.done: set[str] = set()
        self.record = {"schema": self.schema, **record}
        self._lock = exclusive_output(path, "results file")
        self._lock.__enter__()
        try:
            self._open(resume and path.exists())
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def _open(self, resuming: bool) -> None:
        path = self.path
        try:
            if resuming:
                self._check_record()
                self.done = self._keep_complete_rows()
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
                self._file: TextIO = os.fdopen(fd, "a", newline="", encoding="utf-8", errors="backslashreplace")
            else:
                atomic_write(record_path(path), jsonio.dumps(self.record, indent=1) + "\n")
                tmp = new_temp(path)  # a new file renamed over the path: an old file or link is replaced, not
                self._file = tmp.open("w", newline="", encoding="utf-8", errors="backslashreplace")  # written through
                if not self.jsonl:
                    csv.writer(self._file).writerow(_csv_header(self.top))
                self._file.flush()
                commit(tmp, path)
        except OSError as exc:
            raise write_error(exc, "results", path, hint="choose a writable -o") from exc
        self._csv = None if self.jsonl else csv.writer(self._file)

    def _check_record(self) -> None:
        sidecar = record_path(self.path)
        try:
            before = json.loads(sidecar.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OutputError(f"{self.path}: cannot resume: nothing records which model and settings wrote it "
                              f"({sidecar.name} is missing)",
                              hint="write to another -o, or run without --resume to start the file afresh") from None
        except ValueError:
            raise OutputError(f"{self.path}: cannot resume: {sidecar.name} is not readable JSON",
                              hint="write to another -o, or run without --resume to start the file afresh") from None
        differ = _differences(before, self.record)
        if before.get("schema") != self.schema or differ:
            raise OutputError(f"{self.path} was written with another " + "; ".join(differ or ["format"]) +
                              ": resuming would mix results", hint="resume with the same model and settings, or "
                              "write to another -o")

    def _parse(self, line: str) -> str | None:
        """The image of a complete row of a classified image, else None."""
        if self.jsonl:
            try:
                row = json.loads(line)
            except ValueError:
                return None
            ok = isinstance(row, dict) and "error" not in row and isinstance(row.get("top"), list) \
                and isinstance(row.get("image"), str)
            return row["image"] if ok else None
        cells = next(csv.reader([line]), [])
        if len(cells) < 5 or (len(cells) - 2) % 3 or len(cells) > 2 + 3 * self.top or cells[1] != "ok":
            return None
        return cells[0]

    def _keep_complete_rows(self) -> set[str]:
        with self.path.open(encoding="utf-8", newline="") as f:
            text = f.read()
        cut = not text.endswith("\n") and bool(text)
        lines = text.splitlines(keepends=True)
        if cut:
            lines = lines[:-1]  # the row the interruption cut: that image is classified again
        kept: list[str] = []
        done: set[str] = set()
        start = 0
        if not self.jsonl:
            header = lines[0].rstrip("\r\n") if lines else ""
            if next(csv.reader([header]), []) != _csv_header(self.top):
                raise OutputError(f"{self.path}: cannot resume: its header is not that of onnpu's results with "
                                  f"top {self.top}", hint="write to another -o")
            kept.append(lines[0])
            start = 1
        for line in lines[start:]:
            image = self._parse(line.rstrip("\r\n"))
            if image is not None and image not in done:
                done.add(image)
                kept.append(line)
        if len(kept) != len(lines) or cut:
            atomic_write(self.path, "".join(kept))  # failed and cut rows out: those images run again
        return done

    def write(self, image: str, top: Top | None, error: str | None = None) -> None:
        try:
            self._write(image, top, error)
        except OSError as exc:
            raise write_error(exc, "results", self.path) from exc

    def _write(self, image: str, top: Top | None, error: str | None) -> None:
        if self.jsonl:
            record: dict[str, Any] = {"image": image}
            if error:
                record["error"] = error
            else:
                record["top"] = [{"index": i, "label": label, "score": round(s, 6)} for i, label, s in top or []]
            self._file.write(jsonio.dumps_line(record))
        else:
            assert self._csv is not None
            row: list[Any] = [image, "error: " + error if error else "ok"]
            for i, label, s in top or []:
                row += [i, label, f"{s:.6f}"]
            self._csv.writerow(row)
        self._file.flush()

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:  # the last buffered rows met a full disk
            raise write_error(exc, "results", self.path) from exc
        finally:
            self._lock.__exit__(None, None, None)
