# The two commands a new machine needs: `make demo` and `make test`.
# Both build .venv (Python 3.10 with every extra) first, and reuse it while its inputs are unchanged.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test venv lint clean-venv

venv:
	@scripts/ensure-venv.sh

# The main job. Until the end-to-end pipeline lands it trains the zoo's small CNN on the
# offline digits data and prints its test accuracy.
demo: venv
	$(PY) -m leanspike train-ann --dataset digits --arch small_cnn --out runs/demo

# --no-skips: in the project's own environment every test, Lava's included, must run.
test: venv
	$(PY) -m pytest --no-skips $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)
