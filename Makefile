# pandas-clusters: the README's commands. Everything the project needs is installed here,
# into .venv, from the package index; nothing is expected on the machine but python3 >= 3.11.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: demo test test-slurm lint pytest browser bench clean-results help

help:
	@echo "make demo   - install into .venv and run the workflow on the embedded mock survey"
	@echo "make test   - install into .venv with test extras, lint, run the test suite"
	@echo "make test-slurm - start a one-node SLURM cluster here and run the tiny workflow through it"
	@echo "make bench  - run the benchmarks (results: benchmarks/RESULTS.md)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "pandas-clusters needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/ruff format --check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

pytest: $(STAMP) browser
	$(BIN)/python -m pytest

# The inspection app's browser test drives Debian's chromium through chromedriver (never a
# downloaded browser): installed here when missing and we are root with apt-get; otherwise
# the test skips and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	else \
		echo "browser: chromium/chromium-driver missing and not installable here (needs root and apt-get); the browser test will skip"; \
	fi

test: lint pytest

# Installs slurm-wlm and munge from Debian (as root), starts a one-node cluster with fake
# GPUs, runs config/tiny.yaml through profiles/slurm, compares with a local run, stops it.
test-slurm: $(STAMP)
	tests/slurm/run-test.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mock.py
	$(BIN)/python benchmarks/bench_stamps.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_inspection.py

clean-results:
	rm -rf results resources logs .snakemake benchmarks/runs
