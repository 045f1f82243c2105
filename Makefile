# The two commands of the README. Both create .venv (unless a virtual environment is
# active), install the project into it, and then do their work.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
ifdef VIRTUAL_ENV
  PY := python
else
  PY := $(VENV)/bin/python
endif
STAMP := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),$(VENV))/.seelike-installed

.PHONY: book test install lint unit chapters bench clean

book: install            ## execute every chapter on the default preset and build the HTML
	$(PY) -m seelike.book.run --preset cifar --build

test: install lint unit chapters   ## what CI runs

install: $(STAMP)
$(STAMP): pyproject.toml
	@if [ -z "$$VIRTUAL_ENV" ] && [ ! -x $(VENV)/bin/python ]; then $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

lint:
	$(PY) -m ruff check lib tests benchmarks scripts

unit:
	$(PY) -m pytest -q

chapters:                ## every chapter under papermill (smoke), the book with -W, a browser
	$(PY) -m seelike.book.run --preset smoke --build
	$(PY) scripts/check_browser.py _build/smoke/_build/html --screenshots _build/screenshots

bench: install
	$(PY) benchmarks/bench_cka.py

clean:
	rm -rf _build
