from __future__ import annotations

import pytest

from onnpu import ProviderOptionError, TargetError, get_target, qnn_status
from onnpu.runtime.qnn_options import parse_option, validate_qnn_options


def test_aliases_resolve_to_providers() -> None:
    assert get_target("cpu").provider == "CPUExecutionProvider"
    npu = get_target("npu")
    assert npu.provider == "QNNExecutionProvider"
    # the SoC defaults to QCS6490 (HTP v68, the most restrictive Dragonwing NPU): its soc_model is passed
    assert npu.options_dict == {"backend_type": "htp", "soc_model": "93"}
    assert npu.soc is not None and npu.soc.name == "QCS6490" and npu.soc.htp_arch == 68
    assert get_target("CPUExecutionProvider").name == "cpu"
    assert get_target("qnn", allow_fallback=False).allow_fallback is False


def test_unknown_target_names_the_value() -> None:
    with pytest.raises(TargetError, match="unknown target 'tpu'") as info:
        get_target("tpu")
    assert "npu" in (info.value.hint or "")


@pytest.mark.parametrize(("options", "message"), [
    ({"htp_performance_mod": "burst"}, "unknown QNN provider option 'htp_performance_mod'"),
    ({"htp_performance_mode": "fast"}, "invalid value 'fast' for QNN provider option 'htp_performance_mode'"),
    ({"htp_arch": "99"}, "invalid value '99' for QNN provider option 'htp_arch'"),
    ({"soc_model": "abc"}, "invalid value 'abc'"),
    ({"backend_path": "libQnnHtp.so", "backend_type": "htp"}, "'backend_path' and 'backend_type' conflict"),
    ({"profiling_level": "detailed"}, "needs 'profiling_file_path'"),
])
def test_bad_qnn_options_are_rejected_before_any_session(options: dict[str, str], message: str) -> None:
    with pytest.raises(ProviderOptionError, match=message):
        validate_qnn_options(options)


def test_fp16_needs_a_soc() -> None:
    with pytest.raises(ProviderOptionError, match="needs a SoC"):
        get_target("npu", {"enable_htp_fp16_precision": "1", "htp_arch": "73"})
    assert get_target("npu", {"enable_htp_fp16_precision": "1"}, soc="qcs8550").options_dict["soc_model"] == "66"


def test_close_option_names_are_suggested() -> None:
    with pytest.raises(ProviderOptionError) as info:
        validate_qnn_options({"performance_mode": "burst"})
    assert "htp_performance_mode" in (info.value.hint or "")


def test_valid_options_pass_and_keep_htp_default() -> None:
    opts = validate_qnn_options({"htp_performance_mode": "burst", "htp_arch": "73"})
    assert opts == {"htp_performance_mode": "burst", "htp_arch": "73", "backend_type": "htp"}


def test_cpu_takes_no_options() -> None:
    with pytest.raises(ProviderOptionError, match="cpu target takes no provider options"):
        get_target("cpu", {"htp_arch": "73"})


def test_parse_option_requires_equals() -> None:
    assert parse_option("vtcm_mb=8") == ("vtcm_mb", "8")
    with pytest.raises(ProviderOptionError, match="not of the form key=value"):
        parse_option("vtcm_mb")


@pytest.mark.npu
def test_qnn_status_finds_the_plugin_or_builtin_ep() -> None:
    status = qnn_status()
    assert status.mode in ("plugin", "builtin")
    if status.mode == "plugin":
        assert status.backends["htp"]
        assert status.qnn_sdk_version
