"""Progress on stderr: a bar with rates and an ETA on a terminal, a line now and then elsewhere.

A terminal's bar redraws itself many times a second with carriage returns; written to a file
or a pipe (a log, ``nohup``, a CI job), each redraw would stay in it. There, a plain line is
written every ``LINE_INTERVAL_S`` seconds and each tenth of the work (``LINE_STEPS``), and at
the end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

LINE_INTERVAL_S = 30.0
LINE_STEPS = 10  # a line each tenth of the total


class _Lines:
    """When a log gets its next line: after ``interval_s``, at each tenth of the total, at the end."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._last_time = time.monotonic()
        self._last_step = 0
        self._ended = False

    def due(self, done: float, total: float | None) -> bool:
        now = time.monotonic()
        ended = bool(total) and done >= total
        if ended and self._ended:
            return False
        step = int(done * LINE_STEPS // total) if total else 0
        if ended or step > self._last_step or now - self._last_time >= self._interval_s:
            self._last_time, self._last_step, self._ended = now, step, ended
            return True
        return False


class Progress:
    """Counts finished generations against a known total; silent when ``quiet``."""

    def __init__(
        self,
        total: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        interval_s: float = LINE_INTERVAL_S,
        unit: str = "ex",
        noun: str = "generations",  # what the plain lines count
    ) -> None:
        self.total = total
        self.done = 0
        self.tokens = 0
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._noun = noun
        self._started = time.monotonic()
        self._lines = _Lines(interval_s)
        self._bar = None
        if not quiet and self._stream.isatty():
            self._bar = tqdm(total=total, unit=unit, file=self._stream, dynamic_ncols=True)

    def advance(self, generations: int = 1, tokens: int = 0) -> None:
        self.done += generations
        self.tokens += tokens
        if self._quiet:
            return
        elapsed = max(time.monotonic() - self._started, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self.tokens / elapsed:.1f} tok/s", refresh=False)
            self._bar.update(generations)
            return
        if self._lines.due(self.done, self.total):
            rate = self.done / elapsed
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(
                f"{self.done}/{self.total} {self._noun}, {rate * 60:.1f}/min, "
                f"{self.tokens / elapsed:.1f} tok/s, ETA {_duration(eta)}",
                file=self._stream,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _LogBar:
    """The part of tqdm's interface the converter uses, writing a plain line now and then."""

    def __init__(
        self, total: float | None, desc: str, unit: str, unit_scale: bool, stream: TextIO, interval_s: float
    ) -> None:
        self.total = total
        self.n: float = 0
        self._desc, self._unit, self._unit_scale = desc, unit, unit_scale
        self._stream = stream
        self._started = time.monotonic()
        self._lines = _Lines(interval_s)

    def update(self, n: float = 1) -> None:
        self.n += n
        self.refresh()

    def reset(self, total: float | None = None) -> None:
        self.total, self.n = total, 0

    def refresh(self) -> None:
        if self._lines.due(self.n, self.total):
            self._line()

    def _line(self) -> None:
        if self._unit_scale:  # 16.4MB/35.1MB
            amount = tqdm.format_sizeof(self.n, self._unit, 1000)
            if self.total:
                amount += "/" + tqdm.format_sizeof(self.total, self._unit, 1000)
        else:  # 3/21 tensor
            amount = f"{self.n:.0f}" + (f"/{self.total:.0f}" if self.total else "") + f" {self._unit}"
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        elapsed = _duration(time.monotonic() - self._started)
        print(f"{self._desc}: {amount}{share}, {elapsed}", file=self._stream, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> _LogBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    *,
    desc: str,
    unit: str,
    total: float | None = None,
    unit_scale: bool = False,
    enabled: bool = True,
    stream: TextIO | None = None,
    interval_s: float = LINE_INTERVAL_S,
):
    """A tqdm bar on a terminal (cleared when done); elsewhere an object with tqdm's
    ``update``/``reset``/``n``/``refresh``/``close`` that writes a line now and then."""
    stream = stream or sys.stderr
    if not enabled or stream.isatty():
        return tqdm(
            total=total, unit=unit, unit_scale=unit_scale, desc=desc, file=stream, disable=not enabled, leave=False
        )
    return _LogBar(total, desc, unit, unit_scale, stream, interval_s)


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
