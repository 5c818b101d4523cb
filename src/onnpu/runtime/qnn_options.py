"""Validation of QNN execution provider options, keys and values, before a session is created.

The QNN EP accepts unknown keys silently and only warns on many invalid values, so a typo would make a
session that quietly ignores what the user asked for. Every key documented for the QNN EP is listed here
with the values it takes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from onnpu.errors import ProviderOptionError

Check = Callable[[str], bool]


def _choice(*values: str) -> tuple[Check, str]:
    return (lambda v: v in values), "one of " + ", ".join(values)


def _int(lo: int | None = None, hi: int | None = None) -> tuple[Check, str]:
    def check(v: str) -> bool:
        try:
            n = int(v)
        except ValueError:
            return False
        return (lo is None or n >= lo) and (hi is None or n <= hi)

    if lo is not None and hi is not None:
        return check, f"an integer from {lo} to {hi}"
    if lo is not None:
        return check, f"an integer ≥ {lo}"
    return check, "an integer"


def _any() -> tuple[Check, str]:
    return (lambda v: bool(v)), "a non-empty string"


BOOL = _choice("0", "1")

QNN_OPTIONS: dict[str, tuple[Check, str]] = {
    "backend_type": _choice("cpu", "gpu", "htp", "saver", "ir"),
    "backend_path": _any(),
    "profiling_level": _choice("off", "basic", "detailed", "optrace"),
    "profiling_file_path": _any(),
    "rpc_control_latency": _int(0),
    "vtcm_mb": _int(0),
    "htp_performance_mode": _choice(
        "burst", "balanced", "default", "high_performance", "high_power_saver", "low_balanced",
        "extreme_power_saver", "low_power_saver", "power_saver", "sustained_high_performance",
    ),
    "qnn_saver_path": _any(),
    "qnn_context_priority": _choice("low", "normal", "normal_high", "high"),
    "htp_graph_finalization_optimization_mode": _choice("0", "1", "2", "3"),
    "soc_model": _int(0),
    "htp_arch": _choice("0", "68", "69", "73", "75", "79", "81"),
    "device_id": _int(0),
    "enable_htp_fp16_precision": BOOL,
    "htp_bf16_enable": BOOL,
    "offload_graph_io_quantization": BOOL,
    "enable_htp_spill_fill_buffer": BOOL,
    "enable_htp_shared_memory_allocator": BOOL,
    "enable_vtcm_backup_buffer_sharing": BOOL,
    "dump_json_qnn_graph": BOOL,
    "json_qnn_graph_dir": _any(),
    "op_packages": _any(),
    "skip_qnn_version_check": BOOL,
    "extended_udma": BOOL,
}


def parse_option(text: str) -> tuple[str, str]:
    """Parse ``key=value`` as given to ``--ep-option``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ProviderOptionError(f"provider option {text!r} is not of the form key=value",
                                  hint="write it as --ep-option htp_performance_mode=burst")
    return key.strip(), value.strip()


def validate_qnn_options(options: Mapping[str, str]) -> dict[str, str]:
    """Check every key and value; return the options with ``backend_type=htp`` added when no backend is named."""
    checked: dict[str, str] = {}
    for key, value in options.items():
        if key not in QNN_OPTIONS:
            close = [k for k in QNN_OPTIONS if key.lower() in k or k in key.lower()]
            known = ", ".join(close or sorted(QNN_OPTIONS))
            raise ProviderOptionError(f"unknown QNN provider option {key!r}",
                                      hint=f"{'did you mean' if close else 'known options'}: {known}")
        check, expected = QNN_OPTIONS[key]
        value = str(value)
        if not check(value):
            raise ProviderOptionError(f"invalid value {value!r} for QNN provider option {key!r}",
                                      hint=f"{key} takes {expected}")
        checked[key] = value
    if "backend_path" in checked and "backend_type" in checked:
        raise ProviderOptionError("QNN provider options 'backend_path' and 'backend_type' conflict",
                                  hint="give only one of them (backend_type=htp is the NPU)")
    level = checked.get("profiling_level", "off")
    if level != "off" and "profiling_file_path" not in checked:
        raise ProviderOptionError(f"QNN option profiling_level={level} needs 'profiling_file_path'",
                                  hint="add --ep-option profiling_file_path=qnn_profile.csv")
    if "backend_path" not in checked:
        checked.setdefault("backend_type", "htp")
    return checked
