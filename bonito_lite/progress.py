"""Progress on stderr: a bar with rates and an ETA on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts finished generations against a known total; silent when ``quiet``."""

    def __init__(
        self,
        total: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        interval_s: float = 10.0,
        unit: str = "ex",
        noun: str = "generations",  # what the plain lines count
    ) -> None:
        self.total = total
        self.done = 0
        self.tokens = 0
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._interval_s = interval_s
        self._noun = noun
        self._started = time.monotonic()
        self._last_line = self._started
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
        now = time.monotonic()
        if now - self._last_line >= self._interval_s or self.done == self.total:
            self._last_line = now
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


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
