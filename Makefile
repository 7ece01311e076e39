# Two commands matter: `make benchmark` and `make test`. Both install into .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATASET ?= ml-1m
# ML-1M is benchmarked with ratings >= 4 read as watches (see README); other data sets keep every rating.
MIN_RATING ?= $(if $(filter ml-1m,$(DATASET)),4,)
MODELS ?= all
SEED ?= 0
# ML-1M with ratings >= 4 goes to results/ml-1m-r4: the folder names the data it ran on.
OUT ?= results/$(DATASET)$(if $(MIN_RATING),-r$(MIN_RATING),)
DEVICE ?= auto
# TUNED=DIR: a benchmark.tune output folder; each model runs with the parameters tuned there.
# ML-100K's default is its committed leaderboard: its tuned configurations end their runs within
# the budget below and set 2 of 137 model pairs out of the leaderboard's order on validation,
# against 10 with the default configurations (docs/performance.md); `TUNED=` runs the defaults.
TUNED ?= $(if $(filter ml-100k,$(DATASET)),results/leaderboard/ml-100k,)
TORCH_CPU_PIN := torch==2.13.0
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
# Without a GPU each deep model trains for at most 240 seconds at a learning rate of 5e-3, two
# models at a time (one thread each on 2 cores), so the suite on ML-1M >= 4 ends in about half an
# hour; both are in every record and table label (the epochs each model got are in its record).
# The budget and rate were chosen on validation: they order the models closest to their runs to
# early stopping (docs/performance.md). `make benchmark TRAIN_SECONDS= LR=` trains to early
# stopping at each model's own rate; EPOCHS=N adds an epoch cap. A GPU gets no budget.
TRAIN_SECONDS ?= $(if $(HAS_GPU),,240)
LR ?= $(if $(HAS_GPU),,5e-3)
JOBS ?= $(if $(HAS_GPU),1,2)
EPOCHS ?=
# The knobs benchmark.run and benchmark.ablate share; `make benchmark` leaves a tuned folder's
# rates as they are.
BUDGET = $(if $(TRAIN_SECONDS),--max-seconds $(TRAIN_SECONDS),) \
	$(if $(EPOCHS),--epochs $(EPOCHS),) --jobs $(JOBS)
RATE = $(if $(LR),--lr $(LR),)

.PHONY: install install-test benchmark ablation leaderboard readme-results test test-fast lint clean

install: $(VENV)/.installed

# Without an NVIDIA GPU the CPU build of torch is pinned (an unpinned torch pulls a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if [ -n "$(HAS_GPU)" ]; then \
		echo "NVIDIA GPU found: installing the CUDA build of torch"; $(BIN)/pip install -q torch; \
	else \
		echo "no NVIDIA GPU: installing the CPU build $(TORCH_CPU_PIN)"; $(BIN)/pip install -q $(TORCH_CPU_PIN); \
	fi
	$(BIN)/pip install -q -e '.[test,plot]'
	touch $@

# The tests also need the ray extra, so the Ray executor's test runs (in CI too).
install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,plot,ray]'
	touch $@

benchmark: install
	$(BIN)/python -m benchmark.run --dataset $(DATASET) $(if $(MIN_RATING),--min-rating $(MIN_RATING),) \
		--models $(MODELS) --seed $(SEED) --device $(DEVICE) --out $(OUT) \
		$(BUDGET) $(if $(TUNED),--tuned $(TUNED),$(RATE))
	$(BIN)/python -m benchmark.report $(OUT) --published

# One ablation grid with the same knobs: `make ablation PARAM=emb_dim MODELS=gru,sasrec`.
PARAM ?= seq_len
ablation: install
	$(BIN)/python -m benchmark.ablate --param $(PARAM) --dataset $(DATASET) \
		$(if $(MIN_RATING),--min-rating $(MIN_RATING),) --models $(MODELS) --seed $(SEED) \
		--device $(DEVICE) $(BUDGET) $(RATE)

# The tuned leaderboard of studies/leaderboard.toml (resumable; `STUDY=file` for another,
# `JOBS=2` for two trials at once, `STOP_AFTER=480` to start nothing new after 8 hours).
STUDY ?= studies/leaderboard.toml
JOBS ?= 1
leaderboard: install
	$(BIN)/python -m benchmark.tune.leaderboard $(STUDY) --jobs $(JOBS) \
		$(if $(STOP_AFTER),--stop-after $(STOP_AFTER),)

# The README's results block, generated from the committed results folders (a test checks it).
readme-results: install
	$(BIN)/python -m benchmark.report.readme

test: install-test
	$(BIN)/python -m pytest

# Everything but the tests marked slow (subprocesses, process pools, Ray).
test-fast: install-test
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
