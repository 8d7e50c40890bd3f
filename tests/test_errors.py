"""A library's complaint quoted inside one of our one-line messages."""

from __future__ import annotations

from bonito_lite.errors import DETAIL_CHARS, one_line


def test_a_message_over_several_lines_becomes_one():
    error = ValueError("Expected a value\n\n  at line 3:\tcolumn 7  ")
    assert one_line(error) == "Expected a value at line 3: column 7"


def test_an_error_that_says_nothing_is_named_by_its_class():
    assert one_line(OSError()) == "OSError"


def test_named_puts_the_class_first():
    assert one_line(KeyError("/Font"), named=True) == "KeyError: '/Font'"
    assert one_line(RuntimeError(""), named=True) == "RuntimeError"


def test_a_long_message_is_cut_with_an_ellipsis():
    text = one_line(ValueError("word " * 200))
    assert len(text) == DETAIL_CHARS and text.endswith("...")
    assert one_line(ValueError("x" * DETAIL_CHARS)) == "x" * DETAIL_CHARS
