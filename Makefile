# `make demo` and `make test` work on a fresh machine: each creates .venv when it is missing
# (a second run installs nothing) and installs the package with constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# torchreid's own model files, the reference the checkpoint importers are tested against
# (tests/models/test_importers.py): its sdist from PyPI, unpacked, never imported as a package.
TORCHREID := $(VENV)/peers/torchreid-0.2.5/torchreid/reid/models

.PHONY: demo test lint format pytest docs bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/siamreid demo --out runs/demo --overwrite

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy --strict src

format: $(STAMP)
	$(BIN)/ruff check --fix src tests examples benchmarks
	$(BIN)/ruff format src tests examples benchmarks

$(TORCHREID): | $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps --no-binary=:all: torchreid==0.2.5 -d $(VENV)/peers
	tar -xzf $(VENV)/peers/torchreid-0.2.5.tar.gz -C $(VENV)/peers

pytest: $(STAMP) $(TORCHREID)
	SIAMREID_TORCHREID_SRC=$(TORCHREID) $(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

test: lint docs pytest

# Each benchmark records its table in docs/benchmarks.md. bench_rerank's dense reference needs
# ~12 GB of memory; bench_retrieval's 1M gallery ~8 GB. bench_gpu.py needs a CUDA GPU and is run
# by hand there (its docstring gives the command); its --cpu-smoke mode runs in the tests.
bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_eval.py
	cd benchmarks && ../$(BIN)/python bench_rerank.py
	cd benchmarks && ../$(BIN)/python bench_retrieval.py
	cd benchmarks && ../$(BIN)/python bench_inference.py
	cd benchmarks && ../$(BIN)/python bench_trainer.py
	cd benchmarks && ../$(BIN)/python bench_loader.py

clean:
	rm -rf $(VENV) build dist site .mypy_cache .ruff_cache .pytest_cache
