"""The one exception tree of onnpu. ``str(error)`` is the message a user sees; ``hint`` says what to do."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes of the command line, one meaning each (the README's table)."""

    OK = 0
    ERROR = 1  # an OnnpuError: bad input, a failure onnpu explains
    USAGE = 2  # the command line itself is wrong (argparse)
    REFUSED = 3  # the model is not (fully) on the NPU where that was required: --no-fallback, --require-full
    QUALITY = 4  # a measured quality is below the floor the user set
    PARTIAL = 5  # some cells / items failed, the rest ran and were reported
    INTERRUPTED = 130  # Ctrl-C (SIGINT)


class OnnpuError(Exception):
    """Base of every error onnpu raises on purpose. The CLI prints ``error: <message>`` and ``hint: <hint>``."""

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ModelError(OnnpuError):
    """The model file cannot be read, is not ONNX, or its external data is missing."""


class TargetError(OnnpuError):
    """A target or execution provider is unknown or cannot be loaded."""


class ProviderOptionError(TargetError):
    """A provider option key or value is not valid for the provider."""


class PlacementError(TargetError):
    """The model cannot run entirely on the requested provider while CPU fallback is disabled."""

    exit_code: int = ExitCode.REFUSED


class RunError(OnnpuError):
    """A model failed while it ran (a node's kernel or the backend), with inputs that fit it."""


class ShapeError(OnnpuError):
    """Shapes cannot be fixed as asked, or dynamic dimensions remain."""


class QuantizationError(OnnpuError):
    """Quantization could not be done as asked."""


class InputDataError(OnnpuError):
    """Input data (arrays, images, labels) does not fit the model or cannot be read."""


class OutputError(OnnpuError):
    """An output file cannot be written where asked."""


class DownloadError(OnnpuError):
    """A remote file could not be fetched or did not match its checksum."""


class SimplifyError(OnnpuError):
    """Simplification failed, or would change the model's outputs beyond float rounding."""
