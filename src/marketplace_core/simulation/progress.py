"""A progress bar for long simulations, drawn on a text stream with no dependency.

The bar stays hidden for short runs: it appears only once ``delay`` seconds have passed
since :meth:`ProgressBar.start`, and only on a terminal unless forced. It reads the time
from the ``timer`` it is given (``time.monotonic`` at the command line, a fake in tests),
and redraws only when its text changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the engine tells about its progress."""

    def start(self, total: int) -> None:
        """The run has ``total`` steps."""

    def advance(self, detail: str = "") -> None:
        """One more step is done; ``detail`` says where the run is."""

    def finish(self) -> None:
        """The run is over (or failed)."""


class NoProgress:
    """Progress that shows nothing."""

    def start(self, total: int) -> None:
        """Nothing to show."""

    def advance(self, detail: str = "") -> None:
        """Nothing to show."""

    def finish(self) -> None:
        """Nothing to show."""


class ProgressBar:
    """``label [#######.............]  12/48  2026-03`` on ``stream``, rewritten in place.

    Shown only when ``force`` is true or ``stream`` is a terminal, and only after ``delay``
    seconds by ``timer``. :meth:`finish` ends a shown bar with a full line and a newline.
    """

    def __init__(
        self,
        stream: TextIO,
        timer: Callable[[], float],
        *,
        label: str = "simulating",
        force: bool = False,
        delay: float = 1.0,
        width: int = 30,
    ) -> None:
        self.stream = stream
        self.timer = timer
        self.label = label
        self.enabled = force or stream.isatty()
        self.delay = delay
        self.width = width
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.shown = False
        self._last = ""

    def start(self, total: int) -> None:
        """Begin counting ``total`` steps from now."""
        self.total = max(total, 1)
        self.done = 0
        self.started = self.timer()
        self.shown = False
        self._last = ""

    def advance(self, detail: str = "") -> None:
        """Count a step, and draw when the bar is due."""
        self.done = min(self.done + 1, self.total)
        if self.enabled and (self.shown or self.timer() - self.started >= self.delay):
            self._draw(detail)

    def finish(self) -> None:
        """Complete a shown bar and end its line."""
        if self.shown:
            self.done = self.total
            self._draw("done")
            self.stream.write("\n")
            self.stream.flush()

    def line(self, detail: str = "") -> str:
        """The bar's text for the current count."""
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        count = f"{self.done}/{self.total}".rjust(2 * len(str(self.total)) + 1)
        return f"{self.label} [{bar}] {count}  {detail}".rstrip()

    def _draw(self, detail: str) -> None:
        text = self.line(detail)
        if text == self._last:
            return
        padding = " " * max(len(self._last) - len(text), 0)
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()
        self._last = text
        self.shown = True
