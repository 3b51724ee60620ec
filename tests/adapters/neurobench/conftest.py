"""NeuroBench is the ``neurobench`` extra: without it these tests skip, which ``make test``'s
--no-skips turns into a failure (the project's environment has every extra)."""

import pytest


def pytest_runtest_setup(item):
    try:
        import neurobench  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"NeuroBench not available (the neurobench extra): {exc}")
