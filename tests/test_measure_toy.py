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
