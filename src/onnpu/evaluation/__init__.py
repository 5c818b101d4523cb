"""Accuracy on labelled data (``onnpu eval``): labelled sets (ImageFolder trees, CSV / JSONL lists), the
per-image evaluation a worker runs (one session per model × target), the engines that spread it over the
machine's cores or a Ray cluster, the statistics (top-k, paired differences with confidence intervals,
exact McNemar tests) and the reports."""
