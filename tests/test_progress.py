"""Progress bars are drawn on a terminal only, unless LEANSPIKE_PROGRESS says otherwise, and a
silent bar behaves like a drawn one for its caller."""

import io
import sys

import pytest

from leanspike.progress import ENV, progress_bar, progress_enabled


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def _drive(stream, **kwargs) -> list[int]:
    bar = progress_bar(range(5), file=stream, desc="work", **kwargs)
    seen = []
    for i in bar:
        seen.append(i)
        bar.set_postfix(loss=f"{1 / (i + 1):.3f}")
    bar.close()
    return seen


def test_no_bar_in_a_log_file():
    log = io.StringIO()
    assert _drive(log) == [0, 1, 2, 3, 4]
    assert log.getvalue() == ""


def test_bar_on_a_terminal():
    terminal = Terminal()
    assert _drive(terminal) == [0, 1, 2, 3, 4]
    assert "work: 100%" in terminal.getvalue() and "5/5" in terminal.getvalue()
    assert "loss=0.200" in terminal.getvalue()


@pytest.mark.parametrize("value", ["1", "on", " TRUE "])
def test_forced_on_draws_in_a_log_file(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    log = io.StringIO()
    assert _drive(log) == [0, 1, 2, 3, 4]
    assert "5/5" in log.getvalue()


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_forced_off_keeps_a_terminal_quiet(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    terminal = Terminal()
    assert _drive(terminal) == [0, 1, 2, 3, 4]
    assert terminal.getvalue() == ""


@pytest.mark.parametrize("off", [{"enabled": False}, {"disable": True}])
def test_a_disabled_bar_still_iterates_and_takes_updates(monkeypatch, off):
    monkeypatch.setenv(ENV, "1")  # the caller's choice wins over the override
    terminal = Terminal()
    assert _drive(terminal, **off) == [0, 1, 2, 3, 4]
    bar = progress_bar(total=3, file=terminal, **off)
    bar.update(2)
    bar.set_postfix(acc="0.9")
    bar.set_description("still quiet")
    bar.close()
    assert terminal.getvalue() == ""


def test_the_default_stream_is_stderr(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress_enabled()
    assert not progress_enabled(False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress_enabled()
    closed = io.StringIO()
    closed.close()  # isatty() raises ValueError
    assert not progress_enabled(stream=closed)
