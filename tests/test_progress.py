"""Progress on stderr: a bar with rates on a terminal, plain periodic lines elsewhere."""

import io

from bonito_lite.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_with_rate_and_eta_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(4, stream=stream, interval_s=0)
    for _ in range(4):
        progress.advance(1, tokens=10)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[-1].startswith("4/4 generations")
    assert "/min" in lines[-1] and "tok/s" in lines[-1] and "ETA" in lines[-1]


def test_a_bar_on_a_terminal():
    stream = FakeTerminal()
    progress = Progress(3, stream=stream)
    progress.advance(3, tokens=30)
    progress.close()
    text = stream.getvalue()
    assert "3/3" in text and "tok/s" in text and "\r" in text


def test_quiet_prints_nothing():
    stream = FakeTerminal()
    progress = Progress(3, stream=stream, quiet=True)
    progress.advance(3)
    progress.close()
    assert stream.getvalue() == ""
