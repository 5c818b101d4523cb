"""Which Qualcomm SoC an NPU result is for: the table of SoC names ↔ QNN ``soc_model`` ↔ HTP arch ↔ Linux
``soc_id``, and how the SoC is chosen (``--soc``, ``ONNPU_SOC``, the user config file, the board itself,
else QCS6490 — the most restrictive Dragonwing NPU, HTP v68).

Sources: ``soc_model`` / arch / VTCM were read from contexts the QNN HTP (onnxruntime-qnn 2.7.0, QNN 2.51)
compiled for each id (``onnpu/data/qnn_soc_models.json``); Linux ids from the kernel's
``include/dt-bindings/arm/qcom,ids.h`` and ``drivers/soc/qcom/socinfo.c`` (497/498 QCM/QCS6490, 603/604
QCS/QCM8550, 667 QCS9100, 676 QCS9075, 674/675 QCS8300/8275, 534 SA8775P, 519 SM8550, 557 SM8650, 618
SM8750, 555 X1E80100, 460 SA8295P, 475 SM7325, 455 QRB5165) and Qualcomm's vendor ``init.qti.qcv.sh``
(575/576 QCS/QCM5430); boards and arch cross-checked with Qualcomm AI Hub's device attributes
(IQ-9075 EVK ``soc-model:77 hexagon:v73``), meta-qcom machine configs and ExecuTorch's chipset table
(``QCS6490 = 93``).
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from onnpu.errors import TargetError

DEFAULT_SOC = "QCS6490"
MIN_HTP_ARCH = 68  # the oldest HTP this QNN compiles for


@dataclass(frozen=True)
class Soc:
    """One SoC's NPU as QNN knows it."""

    name: str
    soc_model: int
    htp_arch: int
    vtcm_mb: float
    linux_soc_ids: tuple[int, ...] = ()
    boards: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} (HTP v{self.htp_arch}, soc_model {self.soc_model})"

    @property
    def compilable(self) -> bool:
        return self.htp_arch >= MIN_HTP_ARCH

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "soc_model": self.soc_model, "htp_arch": self.htp_arch, "vtcm_mb": self.vtcm_mb,
                "linux_soc_ids": list(self.linux_soc_ids), "boards": list(self.boards)}


# The SoCs of Dragonwing / Snapdragon boards (see the module docstring for sources).
SOCS: tuple[Soc, ...] = (
    Soc("QCS6490", 93, 68, 2.0, (497, 498), ("RB3 Gen 2", "Radxa Dragon Q6A", "RUBIK Pi 3", "Particle Tachyon"),
        ("QCM6490", "rb3gen2", "rb3-gen2", "kodiak")),
    Soc("QCS5430", 93, 68, 2.0, (575, 576), ("RB3 Gen 2 Lite",), ("QCM5430",),
        "no soc_model of its own: QNN compiles for it as QCS6490 (93)"),
    Soc("QCS8550", 66, 73, 8.0, (603, 604), ("AIM300 AIoT",), ("QCM8550", "kailua")),
    Soc("QCS9100", 77, 73, 8.0, (667,), ("QCS9100 Ride",), ("lemans",)),
    # RB8 is a QCS9075 board: the kernel's device tree for it is arch/arm64/boot/dts/qcom/qcs9075-rb8.dts
    Soc("QCS9075", 77, 73, 8.0, (676,), ("IQ-9075 EVK", "RB8"), ("IQ-9075", "iq9075"),
        "no soc_model of its own: compiled as QCS9100 (77), as Qualcomm AI Hub does"),
    Soc("QCS8300", 82, 75, 8.0, (674, 675), ("IQ-8275 EVK", "QCS8300 Ride"), ("QCS8275", "IQ-8275", "monaco")),
    Soc("SA8775P", 52, 73, 8.0, (534,), ("SA8775P Ride",), ("SA8255P",), "compiled as SA8255 (52), same HTP"),
    Soc("SA8295P", 39, 68, 8.0, (460,), ("SA8295P ADP",), ("SA8295",)),
    Soc("SM8550", 43, 73, 8.0, (519,), ("Snapdragon 8 Gen 2",), ("8gen2",)),
    Soc("SM8650", 57, 75, 8.0, (557,), ("Snapdragon 8 Gen 3",), ("8gen3",)),
    Soc("SM8750", 69, 79, 8.0, (618, 639), ("Snapdragon 8 Elite",), ("SM8750P", "8elite")),
    Soc("SC8380XP", 60, 73, 8.0, (555,), ("Snapdragon X Elite", "IQ-X7181 EVK"), ("X1E80100", "X1E", "x-elite")),
    Soc("SC8340XP", 120, 73, 8.0, (), ("Snapdragon X Plus",), ("X1P42100", "X1P", "x-plus")),
    # QNN has a soc_model of its own for the IQ-X5121 (119, named IQX5121 in its contexts: qnn_soc_models.json)
    Soc("IQX5121", 119, 73, 8.0, (), ("IQ-X5121 EVK",), ("IQ-X5121", "x5121")),
    Soc("SM7325", 35, 68, 2.0, (475,), ("Snapdragon 778G",), ()),
    Soc("QRB5165", 21, 66, 8.0, (455, 356), ("RB5",), ("SM8250", "rb5"),
        "HTP v66: this QNN compiles for v68 and newer only"),
)


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@cache
def qnn_soc_models() -> dict[int, Soc]:
    """Every ``soc_model`` id this QNN accepts, named as the compiled binary names it."""
    from importlib import resources

    text = resources.files("onnpu.data").joinpath("qnn_soc_models.json").read_text(encoding="utf-8")
    return {r["soc_model"]: Soc(r["name"], r["soc_model"], r["htp_arch"], float(r["vtcm_mb"]))
            for r in json.loads(text)["soc_models"]}


def _names() -> str:
    return ", ".join(s.name.lower() for s in SOCS)


def find_soc(text: str) -> Soc:
    """A SoC by name, alias or board (``qcs6490``, ``rb3gen2``, ``IQ-9075``), or by QNN ``soc_model`` id."""
    wanted = _key(text)
    for soc in SOCS:
        if wanted in {_key(n) for n in (soc.name, *soc.aliases, *soc.boards)}:
            break
    else:
        digits = text.strip().removeprefix("soc_model=").removeprefix("soc_model:")
        if digits.isdigit() and int(digits) in qnn_soc_models():
            return soc_for_model(int(digits))
        raise TargetError(f"unknown SoC {text!r}", hint=f"use one of {_names()} (or a QNN soc_model id); "
                          "`onnpu doctor --socs` lists the table")
    return _compilable(soc)


def _compilable(soc: Soc) -> Soc:
    """``soc`` if this QNN compiles for its HTP; else the one refusal, whether named or detected."""
    if not soc.compilable:
        raise TargetError(f"{soc.name} has an HTP v{soc.htp_arch}: this QNN compiles for v{MIN_HTP_ARCH} and newer",
                          hint="use an onnxruntime-qnn built with a QNN SDK that still supports v66 for this board")
    return soc


def soc_for_model(soc_model: int) -> Soc:
    """The SoC behind a QNN ``soc_model`` id: the board table's entry if it has one, else the QNN table's."""
    for soc in SOCS:
        if soc.soc_model == soc_model and not soc.note:
            return soc
    known = qnn_soc_models().get(soc_model)
    if known is None:
        raise TargetError(f"QNN knows no soc_model {soc_model}",
                          hint=f"use a SoC name ({_names()}) or an id `onnpu doctor --socs` lists")
    return known


def soc_for_linux_id(soc_id: int) -> Soc | None:
    return next((s for s in SOCS if soc_id in s.linux_soc_ids), None)


def soc_for_text(text: str) -> Soc | None:
    """The SoC a free-form CPU / board name mentions (``Snapdragon(R) X Elite - X1E80100``)."""
    words = _key(text)
    for soc in SOCS:
        for name in (soc.name, *soc.aliases):
            if len(_key(name)) >= 5 and _key(name) in words:
                return soc
    return None


# --- the system onnpu runs on ----------------------------------------------------------------------------------

def sysroot() -> Path:
    """Where sysfs, /dev and the DSP libraries are looked up: ``/``, or ``ONNPU_SYSROOT`` (a fake board for
    tests, or a mounted board image)."""
    return Path(os.environ.get("ONNPU_SYSROOT") or "/")


def on_board() -> bool:
    """An arm64 Linux machine with Qualcomm socinfo (or a fake system root): the NPU is real hardware."""
    if os.environ.get("ONNPU_SYSROOT"):
        return True
    return platform.system() == "Linux" and platform.machine().lower() in ("aarch64", "arm64") and \
        (sysroot() / "sys/devices/soc0/soc_id").is_file()


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace").strip().strip("\x00") or None
    except OSError:
        return None


@dataclass
class BoardIdentity:
    """What the system says about its SoC."""

    soc_id: int | None = None
    machine: str | None = None
    family: str | None = None
    model: str | None = None  # device-tree model
    soc: Soc | None = None
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"soc_id": self.soc_id, "machine": self.machine, "family": self.family, "model": self.model,
                "soc": self.soc.to_dict() if self.soc else None, "evidence": self.evidence}


def identify_board() -> BoardIdentity:
    """SoC identity from ``/sys/devices/soc0/{soc_id,machine,family}`` and the device-tree model. The Linux
    ``soc_id`` numbering is not QNN's ``soc_model``: the table maps one to the other."""
    root = sysroot()
    soc0 = root / "sys/devices/soc0"
    ident = BoardIdentity(machine=_read(soc0 / "machine"), family=_read(soc0 / "family"),
                          model=_read(root / "sys/firmware/devicetree/base/model")
                          or _read(root / "proc/device-tree/model"))
    raw = _read(soc0 / "soc_id")
    if raw and raw.isdigit():
        ident.soc_id = int(raw)
        ident.soc = soc_for_linux_id(ident.soc_id)
        ident.evidence.append(f"soc_id {ident.soc_id}")
    for text in (ident.machine, ident.model):
        if ident.soc is None and text:
            ident.soc = soc_for_text(text)
            if ident.soc:
                ident.evidence.append(f"{text!r}")
    if ident.soc is None and platform.system() == "Windows":
        text = os.environ.get("PROCESSOR_IDENTIFIER", "") + " " + platform.processor()
        ident.soc = soc_for_text(text)
        if ident.soc:
            ident.evidence.append(f"processor {text.strip()!r}")
    return ident


# --- choosing the SoC -------------------------------------------------------------------------------------------

def config_path() -> Path:
    """The user config file (``ONNPU_CONFIG`` overrides): TOML with ``soc = "qcs8550"``."""
    from platformdirs import user_config_dir

    return Path(os.environ.get("ONNPU_CONFIG") or Path(user_config_dir("onnpu")) / "config.toml")


def _config_soc() -> str | None:
    path = config_path()
    if not path.is_file():
        return None
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"{path}: cannot read the onnpu config file ({exc})",
                          hint='fix it: it holds TOML such as soc = "qcs6490"') from exc
    value = data.get("soc")
    return str(value) if value else None


@dataclass(frozen=True)
class SocChoice:
    soc: Soc
    source: str  # "--soc", "ONNPU_SOC", "config <path>", "detected (soc_id 498)", "default"
    detected: Soc | None = None


def choose_soc(requested: str | None = None, *, purpose: str = "run") -> SocChoice:
    """The SoC an NPU target is for. ``purpose="compile"`` allows another SoC than the board's own."""
    board = identify_board() if on_board() else None
    detected = board.soc if board else None
    env = os.environ.get("ONNPU_SOC")
    configured = None if requested or env else _config_soc()
    if requested:
        choice = SocChoice(find_soc(requested), "--soc", detected)
    elif env:
        choice = SocChoice(find_soc(env), "ONNPU_SOC", detected)
    elif configured:
        choice = SocChoice(find_soc(configured), f"config {config_path()}", detected)
    elif detected is not None:
        source = f"detected ({', '.join(board.evidence)})" if board else "detected"
        return SocChoice(_compilable(detected), source, detected)
    else:
        return SocChoice(find_soc(DEFAULT_SOC), "default: the most restrictive Dragonwing NPU", None)
    if purpose == "run" and detected is not None and detected.soc_model != choice.soc.soc_model:
        raise TargetError(f"this board's NPU is {detected.label}; {choice.source} asks for {choice.soc.name}",
                          hint=f"drop {choice.source} to run here, or build for {choice.soc.name} with "
                               f"`onnpu compile MODEL --soc {choice.soc.name.lower()}`")
    return choice
