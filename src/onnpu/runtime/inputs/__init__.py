"""What a model's inputs are for and data that fits them: the kind of each input decided from the graph (token
ids, masks, positions, lengths, waveforms, images, quantized inputs), seeded random data in each kind's range
with per-input overrides, and the check that verified outputs are finite."""

from onnpu.runtime.inputs.finite import check_finite
from onnpu.runtime.inputs.generate import random_feeds, random_inputs
from onnpu.runtime.inputs.kinds import InputKind, describe_kinds, input_kinds

__all__ = ["InputKind", "check_finite", "describe_kinds", "input_kinds", "random_feeds", "random_inputs"]
