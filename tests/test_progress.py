"""Progress on stderr: a bar with rates on a terminal, a plain line now and then elsewhere."""

import io

from bonito_lite import progress as progress_module
from bonito_lite.progress import Progress, progress_bar


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


def test_a_log_gets_a_line_each_tenth_of_the_work_not_one_per_update():
    stream = io.StringIO()
    progress = Progress(1000, stream=stream)  # a quick run: the 30 s interval never passes
    for _ in range(1000):
        progress.advance(1, tokens=5)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == [f"{n}/1000" for n in range(100, 1001, 100)]
    assert "\r" not in stream.getvalue()


def test_a_log_gets_a_line_every_30_seconds_between_tenths(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    progress = Progress(1000, stream=stream)
    for _ in range(5):
        clock[0] += 29.0
        progress.advance(1)  # under a tenth each time, and 29 s since the last line
        clock[0] += 2.0
        progress.advance(1)  # 31 s since the last line
    assert [line.split()[0] for line in stream.getvalue().splitlines()] == [
        "2/1000",
        "4/1000",
        "6/1000",
        "8/1000",
        "10/1000",
    ]


def test_a_converter_bar_written_to_a_log_is_a_few_plain_lines():
    stream = io.StringIO()
    with progress_bar(total=10**9, unit="B", unit_scale=True, desc="Writing bonito.gguf", stream=stream) as bar:
        for _ in range(1000):
            bar.update(10**6)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in stream.getvalue()
    assert lines[0].startswith("Writing bonito.gguf: 100MB/1.00GB (10%), ")
    assert lines[-1].startswith("Writing bonito.gguf: 1.00GB/1.00GB (100%), ")


def test_a_bar_whose_total_comes_later_counts_against_it():
    # The quantizer learns the number of tensors from llama.cpp's first report.
    stream = io.StringIO()
    with progress_bar(unit="tensor", desc="Quantizing to Q4_K_M", stream=stream) as bar:
        for done in range(1, 201):
            if bar.total != 200:
                bar.reset(total=200)
            bar.n = done
            bar.refresh()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("Quantizing to Q4_K_M: 200/200 tensor (100%), ")


def test_a_converter_bar_on_a_terminal_is_tqdm_and_nothing_when_disabled():
    terminal = FakeTerminal()
    with progress_bar(total=3, unit="tensor", desc="Quantizing", stream=terminal) as bar:
        bar.update(3)
    assert "\r" in terminal.getvalue() and "Quantizing" in terminal.getvalue()
    log = io.StringIO()
    with progress_bar(total=3, unit="tensor", desc="Quantizing", stream=log, enabled=False) as bar:
        bar.update(3)
    assert log.getvalue() == ""
