"""The toy's measurement script tells how a rejected extractive answer misses its passage."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import measure_toy  # noqa: E402

PASSAGE = "Mix equal weights of flour and water. The Riverside clinic opens at 7:30."


@pytest.mark.parametrize(
    "answer, kind",
    [
        ("Logo", "invented"),
        ("weights of flour and phrase", "strays"),
        ("Rivers", "part-word"),
        ("Riverside Clin", "part-word"),
        # Normalised as the filter normalises: case and edge punctuation do not count.
        ("WEIGHTS of Flour, and honey.", "strays"),
        ("“Logo” of flour", "invented"),
    ],
)
def test_a_rejected_answer_is_told_invented_strayed_or_cut_inside_a_word(answer, kind):
    assert measure_toy.answer_miss(answer, PASSAGE) == kind


def test_several_seeds_are_summed_per_task_type_with_each_seeds_count(monkeypatch, capsys):
    import collections

    calls = []

    def fake_measure(model, samples, seed, threads=None, documents=measure_toy.HELD_OUT, task_types=("all",)):
        calls.append((seed, task_types))
        kept = {3: 40, 4: 54}[seed]
        results = {
            "extractive question answering": (kept, 120, {"answer_not_in_passage": 120 - kept}),
            "multiple-choice question answering": (seed * 20, 120, {}),
        }
        return results, collections.Counter(invented=seed)

    monkeypatch.setattr(measure_toy, "measure", fake_measure)
    monkeypatch.setattr(sys, "argv", ["measure_toy.py", "-s", "3", "-s", "4", "-t", "mcqa", "-t", "exqa"])
    measure_toy.main()
    out = capsys.readouterr().out.splitlines()
    assert calls == [(3, ("mcqa", "exqa")), (4, ("mcqa", "exqa"))]
    rows = [line for line in out if "question answering" in line]
    # The table's order, not the command line's; only the types asked for.
    assert rows[0].startswith("extractive") and rows[1].startswith("multiple-choice") and len(rows) == 2
    assert " 94/240 " in rows[0] and "answer_not_in_passage 146 (40 + 54)" in rows[0]
    assert "140/240" in rows[1] and "(60 + 80)" in rows[1]
    assert any(line.startswith("all") and "234/480" in line for line in out)
    assert "invented 7" in "\n".join(out) and "seeds 3, 4" in out[-1]
