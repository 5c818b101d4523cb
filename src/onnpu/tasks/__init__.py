"""The end-to-end verbs built from the layers below: ``run``, ``prepare``, ``placement`` explanations,
``doctor`` and ``demo``."""
