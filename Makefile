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

.PHONY: book setup lab test test-package test-notebooks execute clean
book: setup
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output book -W --keep-going
	@echo "The book: $(abspath book/_build/html/index.html)"

setup: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mnist book)" >/dev/null
	touch $@

lab: setup
	$(BIN)/jupyter lab notebooks/

# All tests: the package, then every notebook re-executed by nbval in the fast mode.
test: test-package test-notebooks

test-package: setup
	$(BIN)/python -m pytest tests --cov=mnist_helpers --cov-report=term-missing:skip-covered

test-notebooks: setup
	MNIST_FAST=1 $(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

# Re-execute the notebooks on the full data and save their outputs (what is committed).
execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 $(NOTEBOOKS)

clean:
	rm -rf book/_build
