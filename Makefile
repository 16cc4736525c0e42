# Two commands do everything: `make demo` and `make test`. Both build the venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The torch build this kind of machine installs from local disk; users bring their own.
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e ".[test,bench,demo]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m learnedaug.cli demo --out demo_out

test: $(STAMP)
	$(PY) -m pytest -n 2 -q tests

bench: $(STAMP)
	for b in transforms sampling training fid; do $(PY) benchmarks/bench_$$b.py || exit 1; done

clean:
	rm -rf $(VENV) demo_out .pytest_cache .hypothesis
