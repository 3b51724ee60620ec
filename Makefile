# The two commands a new machine needs: `make demo` and `make test`.
# Both build .venv (Python 3.10 with every extra) first, and reuse it while its inputs are unchanged.
# `make test` also builds .venv-modern (the newest Python here, every extra but Lava).
VENV := .venv
PY := $(VENV)/bin/python
MODERN_VENV := .venv-modern
MODERN_PY := $(MODERN_VENV)/bin/python

.PHONY: demo test test-py310 test-modern venv modern-venv lint clean-venv

venv:
	@scripts/ensure-venv.sh

modern-venv:
	@scripts/ensure-modern-venv.sh

# The main job: the whole pipeline on the offline digits data (ANN -> SNN at T=2 -> T=1 ->
# pruned -> Loihi 2 fixed point -> Lava), every stage in runs/registry; a second run reuses them.
demo: venv
	$(PY) -m leanspike.app pipeline --dataset digits --registry runs/registry --out runs/demo

# Both environments, one after the other; the run fails if either fails (-k: the second runs
# even when the first fails).
test:
	@$(MAKE) --no-print-directory -k test-py310 test-modern

# --no-skips: in the project's own environment every test, Lava's included, must run.
test-py310: venv
	$(PY) -m pytest --no-skips $(PYTEST_ARGS)

# The core and the adapters on the newest Python, without Lava: every test that needs Lava is
# marked `lava` and deselected by name (not skipped: --no-skips still fails on any skip).
test-modern: modern-venv
	$(MODERN_PY) -m pytest --no-skips -m "not lava" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_imports.py

clean-venv:
	rm -rf $(VENV) $(MODERN_VENV)
