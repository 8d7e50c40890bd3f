"""Fuzzing what reads untrusted text: the parser, the table and stdin readers, the chunker.

``tests/test_documents.py`` already fuzzes text files of arbitrary bytes and table cells of
arbitrary text, and ``tests/test_chunking.py`` the chunker on arbitrary text with several
counters; the cases here are the ones those leave out.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from bonito_lite.errors import InputError
from bonito_lite.inputs import chunking
from bonito_lite.inputs.chunking import split_passages
from bonito_lite.inputs.documents import find_documents, iter_passages
from bonito_lite.prompt import (
    CONTEXT_PLACEHOLDER,
    NO_PIPE,
    PIPE,
    TOO_MANY_PIPES,
    ParsedExample,
    ParseFailure,
    parse_generation,
)

from passage_checks import assert_nothing_lost_but_page_furniture, without_markup

# --- the parser ----------------------------------------------------------------------------------

# Generations as a model writes them, broken: tags, placeholders, partial tags, whitespace.
_PIECES = st.sampled_from(
    [
        PIPE,
        PIPE,
        CONTEXT_PLACEHOLDER,
        "{{",
        "}}",
        "{context}",
        "<|pipe",
        "|>",
        "<|task|>",
        " ",
        "\n",
        "\t",
        "\u00a0",
        "Q:",
        "answer",
        "é",
        "",
    ]
)
_GENERATIONS = st.one_of(
    st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30).map("".join),
    st.text(max_size=200),
)


def upstream_parse(generation: str, context: str) -> tuple[str, str] | None:
    """Upstream Bonito's rule, as its README and main branch state it."""
    parts = generation.strip().split("<|pipe|>")
    if len(parts) != 2:
        return None
    ctx = context.strip()
    return parts[0].strip().replace("{{context}}", ctx), parts[1].strip().replace("{{context}}", ctx)


@settings(max_examples=500, deadline=None)
@given(generation=_GENERATIONS, context=st.one_of(st.text(max_size=60), _GENERATIONS))
def test_the_parser_never_raises_and_follows_upstream_exactly(generation, context):
    result = parse_generation(generation, context)
    parts = generation.strip().split(PIPE)
    expected = upstream_parse(generation, context)
    if len(parts) == 2:
        assert result == ParsedExample(*expected)
    else:
        assert expected is None
        assert result == ParseFailure(NO_PIPE if len(parts) < 2 else TOO_MANY_PIPES)


_PLAIN_CONTEXT = st.text(alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=500, deadline=None)
@given(generation=_GENERATIONS, context=_PLAIN_CONTEXT)
def test_no_placeholder_is_left_in_a_parsed_example(generation, context):
    # Upstream substitutes once, so a placeholder can be rebuilt around the inserted context
    # ("{{con" + "text" + "}}") or between two empty ones; a context with no brace that is not
    # itself a piece of the placeholder cannot rebuild one.
    assume(context.strip() and context.strip() not in CONTEXT_PLACEHOLDER)
    result = parse_generation(generation, context)
    if isinstance(result, ParsedExample):
        assert CONTEXT_PLACEHOLDER not in result.input
        assert CONTEXT_PLACEHOLDER not in result.output
        assert result.input == result.input.strip() and result.output == result.output.strip()


def test_upstream_single_substitution_is_kept_even_where_it_rebuilds_a_placeholder():
    # Documented divergence from a naive "no placeholder left" rule: we match upstream.
    assert parse_generation("{{con{{context}}}}<|pipe|>x", "text") == ParsedExample("{{context}}", "x")


# --- the readers on arbitrary bytes ---------------------------------------------------------------


def _passages(inputs, *, stdin=None, budget=5, context_col="text"):
    documents = find_documents(inputs, context_col=context_col, stdin=stdin)
    return list(iter_passages(documents, count_tokens=lambda s: len(s.split()), chunk_tokens=budget))


def _assert_well_formed(passages, source_prefix: str) -> None:
    next_index: dict[str, int] = {}
    for passage in passages:
        assert passage.source.startswith(source_prefix)
        assert passage.text and passage.text == passage.text.strip()
        assert passage.char_end - passage.char_start == len(passage.text)
        assert passage.index == next_index.get(passage.source, 0)
        next_index[passage.source] = passage.index + 1


_TABLE_BYTES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    # Almost-valid tables: fragments of JSON, CSV and Parquet files.
    st.lists(
        st.sampled_from(
            [
                b'{"text": "a b. c"}',
                b'{"text": null}',
                b'{"text": 3}',
                b"[",
                b"]",
                b",",
                b"\n",
                b'"text"',
                b"text,id\n",
                b'"x ""y"" z",1\n',
                b"\r\n",
                b"\xef\xbb\xbf",
                b"\xff",
                b"PAR1",
                b"\x00",
                b"{",
                b"}",
                b'{"other": "x"}',
                b"[{}]",
                b'[{"text": "ok"}]',
            ]
        ),
        max_size=30,
    ).map(b"".join),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_TABLE_BYTES, suffix=st.sampled_from([".jsonl", ".json", ".csv", ".parquet"]))
def test_a_table_file_of_any_bytes_reads_or_fails_with_an_input_error(tmp_path, content, suffix):
    path = tmp_path / f"table{suffix}"
    path.write_bytes(content)
    try:
        passages = _passages([str(path)])
    except InputError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    _assert_well_formed(passages, f"{path}#row=")


@settings(max_examples=200, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [b"ab c. ", b"\r\n", b"\n\n", b"\xc3\xa9", b"\xc3", b"\xff", b"\x00", b"\xef\xbb\xbf", b"# h\n", b"\r"]
            ),
            max_size=60,
        ).map(b"".join),
    ),
    budget=st.integers(1, 8),
)
def test_standard_input_of_any_bytes_keeps_the_valid_prefix_and_never_raises(content, budget):
    stream = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8")
    passages = _passages(["-"], stdin=stream, budget=budget)
    _assert_well_formed(passages, "-")
    if b"\0" in content[:8192]:
        assert passages == []
        return
    try:
        valid = content.decode("utf-8")
    except UnicodeDecodeError as error:
        valid = content[: error.start].decode("utf-8")
        # Kept back to its last line end or sentence end: the sentence the bad byte is in goes.
        ends = [m.end() for m in re.finditer(r"[.!?][\"'\u201d\u2019)\]]*[ \t]|\r\n|\r|\n", valid)]
        valid = valid[: ends[-1]] if ends else ""
    assert_nothing_lost_but_page_furniture(valid.removeprefix("\ufeff"), passages, newlines=True)


def test_the_readers_log_no_document_text(tmp_path, caplog):
    secret = "Zebra-7391 owes 4,000 euros"
    (tmp_path / "a.txt").write_bytes(secret.encode() + b"\xff")
    (tmp_path / "b.jsonl").write_text('{"text": "' + secret + '"}\nnot json\n{"other": 1}\n')
    (tmp_path / "c.txt").write_bytes(b"\0" + secret.encode())
    with caplog.at_level(logging.DEBUG, logger="bonito_lite"):
        _passages([str(tmp_path)])
    assert caplog.records, "the skipped parts are reported"
    assert not any("Zebra" in record.getMessage() for record in caplog.records)


# --- the chunker on what test_chunking leaves out ------------------------------------------------

_ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=300)  # lone surrogates too


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(_ANY_TEXT, st.text(alphabet=" \n\r\t.#`x\u2028\u3002", max_size=300)),
    counter=st.sampled_from(
        [lambda s: 0, lambda s: 10**9, lambda s: -1, lambda s: len(s.encode("utf-8", "surrogatepass"))]
    ),
    budget=st.sampled_from([1, 2, 7, 10**9]),
    chunk_sizes=st.lists(st.integers(0, 50), min_size=1, max_size=10),
    limit=st.sampled_from([None, 1, 13]),
)
def test_the_chunker_survives_any_text_counter_and_chunking(text, counter, budget, chunk_sizes, limit):
    # Chunks of any size, empty ones included, in a repeating pattern.
    chunks, position, turn = [], 0, 0
    while position < len(text):
        size = chunk_sizes[turn % len(chunk_sizes)]
        chunks.append(text[position : position + size])
        position += size
        turn += 1
        if turn > 10 * len(text) + 10:
            chunks.append(text[position:])
            break
    original = chunking.PARAGRAPH_CHAR_LIMIT
    if limit is not None:
        chunking.PARAGRAPH_CHAR_LIMIT = limit
    try:
        passages = list(split_passages(iter(chunks), "doc", count_tokens=counter, chunk_tokens=budget))
    finally:
        chunking.PARAGRAPH_CHAR_LIMIT = original
    end = 0
    for number, passage in enumerate(passages):
        assert passage.index == number
        assert text[passage.char_start : passage.char_end] == passage.text
        assert passage.text and passage.text == passage.text.strip()
        assert without_markup(text[end : passage.char_start]).strip() == ""
        end = passage.char_end
        if limit is not None:
            assert len(passage.text) <= limit
        assert counter(passage.text) <= budget or len(passage.text) == 1
    assert without_markup(text[end:]).strip() == ""


@pytest.mark.parametrize("budget", [0, -5])
def test_a_budget_below_one_is_a_programming_error_not_bad_input(budget):
    with pytest.raises(ValueError):
        list(split_passages("text", "doc", count_tokens=len, chunk_tokens=budget))
