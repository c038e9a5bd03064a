# The book's two commands: `make book` (set up + build the website) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The data: a folder with the four MNIST files or a Keras mnist.npz. Relative paths are
# made absolute here, because notebooks execute with their own folder as working directory.
MNIST_DATA ?= $(wildcard ../shared/data/mnist)
ifneq ($(strip $(MNIST_DATA)),)
export MNIST_DATA := $(abspath $(MNIST_DATA))
endif

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# The website is built into $(BOOK_OUT)/_build/html; tests/test_website.py builds into a temp folder.
BOOK_OUT ?= book
# `make lab` serves on this port; each chapter page of the website links to it (the book's
# extension reads LAB_PORT at build time, so `make book LAB_PORT=8890` links to 8890).
LAB_PORT ?= 8888
export LAB_PORT
LAB_ARGS ?=
# The tests that drive a real browser and a real JupyterLab server (see test-website, test-lab).
READER_TESTS := tests/test_website.py tests/test_draw_page.py tests/test_jupyterlab.py

.PHONY: book setup lock browser lab test test-package test-notebooks test-readers test-website test-lab execute clean
# From the committed outputs (no execution), warnings are errors: a few seconds per chapter.
# First the shipped model is folded again for NumPy prediction (mnist_helpers/model/mnist_cnn_folded.npz)
# and the "draw a digit" page's network (book/draw.md) exported again, each only if the shipped
# model changed (compared by content: a fresh clone's file times say nothing).
book: setup
	@$(BIN)/python -m mnist_helpers.inference --if-changed
	@$(BIN)/python tools/web_export.py --if-changed --model mnist_helpers/model/mnist_cnn.keras --out book/_static/mnist_cnn_weights.js
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output $(BOOK_OUT) -W --keep-going
	@echo "The book: $(abspath $(BOOK_OUT)/_build/html/index.html)"

# .venv gets exactly requirements.lock (every package pinned, with its hashes), installed by uv
# (first installed itself with pip, from the lock's hashes for it), or by pip when uv cannot be
# installed; then the package itself, editable. `make lock` recompiles the lock.
# --compile-bytecode: uv, unlike pip, leaves the .pyc files to the first import, and where
# PYTHONDONTWRITEBYTECODE is set (CI containers often set it) no import ever writes them: every
# Python process then compiles TensorFlow's sources again (10 s to start it instead of 4.5 s).
# The kernel keeps ipykernel's own name and display name, the ones the chapters record
# ("python3", "Python 3 (ipykernel)"): JupyterLab writes the kernel's display name into a
# notebook it opens, so any other name marks every chapter as changed the moment it opens.
UV := $(BIN)/uv
UV_INSTALL := pip install --quiet --compile-bytecode
setup: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	@awk '/^uv==/ {p = 1} p {print} p && !/\\$$/ {exit}' requirements.lock > $(VENV)/uv-requirement.txt
	@if $(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(VENV)/uv-requirement.txt && \
	  $(UV) --version >/dev/null 2>&1; then \
	  echo "make setup: installing requirements.lock with $$($(UV) --version)"; \
	  $(UV) $(UV_INSTALL) --python $(BIN)/python --require-hashes -r requirements.lock && \
	  $(UV) $(UV_INSTALL) --python $(BIN)/python --no-deps --no-build-isolation -e .; \
	else \
	  echo "make setup: uv could not be installed from PyPI; installing requirements.lock with pip instead (slower)"; \
	  $(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock && \
	  $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .; \
	fi
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Recompiles requirements.lock from requirements.in (the development tools' pins) and
# pyproject.toml (the package's dependencies and its `notebooks` extra), for every platform and
# Python >= 3.11; versions already in the lock stay unless `make lock LOCK_ARGS=--upgrade`.
LOCK_ARGS ?=
lock: setup
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes $(LOCK_ARGS) \
	  pyproject.toml requirements.in --extra notebooks -o requirements.lock

# JupyterLab on notebooks/, with the kernel of .venv (where mnist_helpers is installed).
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.port=$(LAB_PORT) $(LAB_ARGS)

# All tests: the package, every notebook re-executed by nbval in the fast mode, then the
# website in a headless Chromium and JupyterLab as a reader uses them (test-readers).
test: test-package test-notebooks test-readers

# The package tests and nbval run two workers (pytest-xdist), one per core, and each worker's
# TensorFlow, OpenMP and BLAS get one thread: when both start a thread per core, four threads
# fight over two cores (nbval took 4:15 without this and 3:42 with it, 2026-12-04).
ONE_THREAD_EACH := TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# A test file's tests stay on one worker (loadscope), so a module's expensive fixture (a
# TensorFlow subprocess, a trained model) is made once.
# ruff first (pyproject.toml's [tool.ruff]: pycodestyle, pyflakes, import order, bugbear).
test-package: setup
	$(BIN)/ruff check .
	$(ONE_THREAD_EACH) $(BIN)/python -m pytest tests $(addprefix --ignore=,$(READER_TESTS)) -n 2 --dist loadscope --cov=mnist_helpers --cov=book/_ext --cov-report=term-missing:skip-covered

# nbval runs the notebooks as a reader who pip-installs the book does, outside the repository:
# the package's wheel (built from its sdist) with its `notebooks` extra, and nbval, pytest and
# pytest-xdist, at the lock's versions, in a new virtual environment in a temporary folder (uv
# makes it from its cache in seconds; pip when make setup had to use pip), and only the notebook
# files copied to another (with the sanitize rules and the nbval_stderr plugin from tests/). Fast mode (MNIST_FAST=1), two workers each running whole notebooks
# (loadfile: a notebook's cells in order, in one kernel). The temporary folder is removed at the end.
NBVAL_TOOLS := nbval pytest pytest-xdist
test-notebooks: setup
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/mnist-nbval.XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	sed -e '/--hash=/d' -e 's/ *\\$$//' requirements.lock > "$$tmp/constraints.txt"; \
	if [ -x $(UV) ]; then \
	  $(UV) build --quiet --python $(BIN)/python --no-build-isolation --out-dir "$$tmp/dist" . && \
	  $(UV) venv --quiet --python $(BIN)/python "$$tmp/venv" && \
	  install="$(UV) $(UV_INSTALL) --python $$tmp/venv/bin/python"; \
	else \
	  $(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$$tmp/dist" . && \
	  $(BIN)/python -m venv "$$tmp/venv" && \
	  install="$$tmp/venv/bin/python -m pip install --quiet"; \
	fi || exit 1; \
	wheel=$$(ls "$$tmp"/dist/*.whl); \
	echo "make test-notebooks: wheel $$(basename $$wheel) [notebooks] + $(NBVAL_TOOLS), in a new venv $$tmp/venv"; \
	$$install --constraint "$$tmp/constraints.txt" "$$wheel[notebooks]" $(NBVAL_TOOLS) || exit 1; \
	mkdir "$$tmp/notebooks" "$$tmp/nbval" && cp $(NOTEBOOKS) "$$tmp/notebooks/" && \
	cp tests/nbval_sanitize.cfg tests/nbval_stderr.py "$$tmp/nbval/" || exit 1; \
	echo "make test-notebooks: nbval, fast mode, on $(words $(NOTEBOOKS)) notebook(s) copied to $$tmp/notebooks"; \
	cd "$$tmp/notebooks" && $(ONE_THREAD_EACH) MNIST_FAST=1 PYTHONPATH="$$tmp/nbval" "$$tmp/venv/bin/python" -m pytest \
	  --nbval --nbval-current-env --nbval-sanitize-with ../nbval/nbval_sanitize.cfg -p nbval_stderr \
	  -p no:cacheprovider -W ignore::DeprecationWarning -n 2 --dist loadfile $(notdir $(NOTEBOOKS))

# The website and JupyterLab tests drive a real headless Chromium. When none is found
# (CHROMIUM, chromium/google-chrome on PATH, or Playwright's download; tests/site_checks.py
# decides), get one and say so: Debian/Ubuntu's package when root or passwordless sudo can
# install it, otherwise Playwright's own build.
browser: setup
	@if $(BIN)/python tests/site_checks.py >/dev/null; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then \
	  echo "make browser: no Chromium found; installing Debian's chromium package (apt-get install chromium)"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo -n"; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "make browser: no Chromium found and no root to install Debian's; running playwright install chromium"; \
	  $(BIN)/playwright install chromium; \
	fi
	@echo "make browser: using $$($(BIN)/python tests/site_checks.py)"

# The reader tests in one pytest: the website and the "draw a digit" page, and JupyterLab. Two
# workers, each test file on one of them (loadfile): they mostly wait on Chromium and the Jupyter
# server, so side by side they take about the time of the longest file, not the sum.
test-readers: browser
	$(BIN)/python -m pytest $(READER_TESTS) -n 2 --dist loadfile

# Builds the book (like `make book`, into a temp folder) and checks it in Chromium (see browser);
# then the "draw a digit" page: its JavaScript network and preprocessing against Keras and Pillow.
# Screenshots: book/_build/screenshots/.
test-website: browser
	$(BIN)/python -m pytest tests/test_website.py tests/test_draw_page.py  # one Chromium: tests/conftest.py's browser

# Starts JupyterLab (through `make lab`), lists the notebooks and runs one through its kernel API.
test-lab: browser
	$(BIN)/python -m pytest tests/test_jupyterlab.py

# Re-execute the notebooks on the full data and save their outputs (what is committed). Only
# here do the chapters record their results (mh.record_results writes to MNIST_RESULTS_DIR, the
# package's results folder mnist_helpers/book_results).
# Each chapter first runs in the fast mode (outputs thrown away), so that the "time to run" line
# at its top quotes both modes measured on the same machine and by the same clock: mh.run_times
# (from setup_book() to the chapter's last cell) writes the fast run's seconds to the file named by
# MNIST_RUN_SECONDS_FILE, passed to the full run as MNIST_FAST_SECONDS. One chapter: make execute NOTEBOOKS=notebooks/04_dense_layer.ipynb
# After the full run, the numbers its prose quotes are rewritten from the values it stored
# (python -m mnist_helpers.prose: <!-- glue NAME:SPEC -->TEXT<!-- /glue --> from mh.glue's outputs).
# A chapter that fails is left as it was and the others still run; the failures are listed at the end.
# After each chapter, the shipped model's folded NumPy copy (what `predict` runs, chapter 10 included)
# is made again if that chapter (9) retrained the model; otherwise this only compares a hash.
execute: setup
	@scratch=$$(mktemp -d); failed=""; for nb in $(NOTEBOOKS); do \
	  echo "make execute: $$nb, fast mode (timed)"; \
	  rm -f $$scratch/seconds; \
	  if MNIST_FAST=1 MNIST_RUN_SECONDS_FILE=$$scratch/seconds $(BIN)/jupyter nbconvert --to notebook --execute --output-dir $$scratch --ExecutePreprocessor.timeout=3600 $$nb; then \
	    fast=$$(cat $$scratch/seconds); \
	    echo "make execute: $$nb, full data (fast mode took $$fast s)"; \
	    MNIST_FAST_SECONDS=$$fast MNIST_RESULTS_DIR=$(abspath mnist_helpers/book_results) $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=7200 $$nb \
	      && $(BIN)/python -m mnist_helpers.prose $$nb || failed="$$failed $$nb"; \
	  else failed="$$failed $$nb"; fi; \
	  $(BIN)/python -m mnist_helpers.inference --if-changed || failed="$$failed (folding the shipped model)"; \
	done; rm -rf $$scratch; \
	if [ -n "$$failed" ]; then echo "make execute: FAILED:$$failed"; exit 1; fi

clean:
	rm -rf book/_build
