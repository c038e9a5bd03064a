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
# `make lab` serves on this port; each chapter page of the website links to it.
LAB_PORT ?= 8888
LAB_ARGS ?=
# The tests that drive a real browser and a real JupyterLab server (see test-website, test-lab).
READER_TESTS := tests/test_website.py tests/test_jupyterlab.py

.PHONY: book setup lab test test-package test-notebooks test-website test-lab execute clean
# From the committed outputs (no execution), warnings are errors: a few seconds per chapter.
book: setup
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output $(BOOK_OUT) -W --keep-going
	@echo "The book: $(abspath $(BOOK_OUT)/_build/html/index.html)"

setup: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mnist book)" >/dev/null
	touch $@

# JupyterLab on notebooks/, with the kernel of .venv (where mnist_helpers is installed).
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.port=$(LAB_PORT) $(LAB_ARGS)

# All tests: the package, every notebook re-executed by nbval in the fast mode, then the
# website in a headless Chromium and JupyterLab as a reader uses them.
test: test-package test-notebooks test-website test-lab

test-package: setup
	$(BIN)/python -m pytest tests $(addprefix --ignore=,$(READER_TESTS)) --cov=mnist_helpers --cov-report=term-missing:skip-covered

test-notebooks: setup
	MNIST_FAST=1 $(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

# Builds the book (like `make book`, into a temp folder) and checks it in Chromium: needs the
# `chromium` package (Debian/Ubuntu) or CHROMIUM=/path/to/chrome. Screenshots: book/_build/screenshots/.
test-website: setup
	$(BIN)/python -m pytest tests/test_website.py

# Starts JupyterLab (through `make lab`), lists the notebooks and runs one through its kernel API.
test-lab: setup
	$(BIN)/python -m pytest tests/test_jupyterlab.py

# Re-execute the notebooks on the full data and save their outputs (what is committed).
execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 $(NOTEBOOKS)

clean:
	rm -rf book/_build
