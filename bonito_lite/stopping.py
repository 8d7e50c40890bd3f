"""SIGTERM stops a command as Ctrl-C does.

``kill``, ``timeout``, ``docker stop`` and batch schedulers send SIGTERM, whose default ends
the process at once: nothing a command was writing would be finished or removed. Inside
:func:`sigterm_interrupts` it raises KeyboardInterrupt instead, the way each command already
handles Ctrl-C. Nothing here imports more than the standard library: the CLI installs it
around every command.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout, docker stop, a batch scheduler's limit), raised where Ctrl-C is."""


class Sigterm:
    """Whether SIGTERM came; its handler stops the command the way Ctrl-C does."""

    received = False

    def __call__(self, number: int, frame: object) -> None:
        self.received = True
        if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
            raise Terminated()
        # As a SIGINT: inside a llama.cpp call Ctrl-C is held off and stops the decode between
        # graph nodes, where an exception raised from this handler would be lost in a ctypes
        # callback.
        signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[Sigterm]:
    """Inside the block SIGTERM stops the command as Ctrl-C does (main thread only)."""
    sigterm = Sigterm()
    if threading.current_thread() is not threading.main_thread():
        yield sigterm
        return
    previous = signal.signal(signal.SIGTERM, sigterm)
    try:
        yield sigterm
    finally:
        signal.signal(signal.SIGTERM, previous)
