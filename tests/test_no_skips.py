"""make test runs pytest --no-skips: a skipped test (say, Lava missing) must fail the run."""

from pathlib import Path

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


def test_no_skips_turns_a_skip_into_a_failure(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner="""
        import pytest

        def test_runs():
            pass

        @pytest.mark.skip(reason="pretend Lava is missing")
        def test_skipped():
            pass
    """)
    strict = pytester.runpytest_subprocess("--no-skips", "-p", "no:cacheprovider")
    assert strict.ret == 1
    strict.stdout.fnmatch_lines(["*--no-skips: 1 test(s) were skipped*", "*test_skipped*"])
    lenient = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert lenient.ret == 0
