"""The progress bar appears only for runs longer than its delay, and only on a terminal
unless forced; a fake timer stands in for the clock on the wall."""

from __future__ import annotations

import io

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.simulation import ProgressBar, parse_scenario, simulate
from tests.simulation.support import small


class FakeTimer:
    """Seconds that pass only when a test says so (or by ``tick`` per reading)."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_run_shorter_than_the_delay_shows_nothing_even_when_forced():
    stream, timer = io.StringIO(), FakeTimer()
    bar = ProgressBar(stream, timer, force=True, delay=1.0)
    bar.start(4)
    timer.now = 0.9
    for _ in range(4):
        bar.advance("2026-01")
    bar.finish()
    assert stream.getvalue() == ""


def test_a_forced_bar_appears_once_the_delay_has_passed_and_ends_its_line():
    stream, timer = io.StringIO(), FakeTimer()
    bar = ProgressBar(stream, timer, force=True, delay=1.0, width=10)
    bar.start(4)
    bar.advance("2026-01")
    assert stream.getvalue() == ""
    timer.now = 1.5
    bar.advance("2026-02")
    assert stream.getvalue() == "\rsimulating [#####.....] 2/4  2026-02"
    bar.finish()
    assert stream.getvalue().endswith("\rsimulating [##########] 4/4  done   \n")


def test_a_bar_that_is_not_forced_stays_off_a_stream_that_is_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(stream, FakeTimer(tick=5.0))
    bar.start(3)
    bar.advance()
    bar.finish()
    assert stream.getvalue() == ""


def test_a_bar_shows_on_a_terminal_without_being_forced():
    stream = Terminal()
    bar = ProgressBar(stream, FakeTimer(tick=5.0), width=4)
    bar.start(2)
    bar.advance("x")
    assert stream.getvalue() == "\rsimulating [##..] 1/2  x"


def test_a_shorter_line_blanks_what_is_left_of_the_longer_one():
    stream = io.StringIO()
    bar = ProgressBar(stream, FakeTimer(tick=5.0), force=True, width=2)
    bar.start(2)
    bar.advance("a long detail")
    bar.advance("")
    first = "simulating [#.] 1/2  a long detail"
    assert stream.getvalue().split("\r")[2] == "simulating [##] 2/2".ljust(len(first))


def test_the_engine_advances_the_bar_once_per_step():
    stream = io.StringIO()
    bar = ProgressBar(stream, FakeTimer(tick=5.0), force=True)
    report = simulate(parse_scenario(small()), InMemoryStorage(), progress=bar)
    assert report.months == 2
    drawn = stream.getvalue().split("\r")[1:]
    assert [line.split("]")[1].split()[0] for line in drawn] == ["1/4", "2/4", "3/4", "4/4", "4/4"]
    assert "2026-02" in drawn[2]
    assert stream.getvalue().endswith("\n")
