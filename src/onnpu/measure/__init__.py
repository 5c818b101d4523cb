"""Measuring models: ``bench`` (latency, start-up, memory, drift), ``compare`` (output drift), ``profile``
(per-op cost) and their reports."""
