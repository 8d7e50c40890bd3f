"""Cutting text into passages: limits, headings, splitting, offsets, nothing dropped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bonito_lite.inputs import chunking
from bonito_lite.inputs.chunking import Block, Passage, split_blocks, split_passages

from passage_checks import assert_faithful

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_notes.md"


def words(text: str) -> int:
    return len(text.split())


def long_words_cost_more(text: str) -> int:
    # One token per word plus one per 8 characters, so a long enough word exceeds any budget.
    return sum(1 + len(word) // 8 for word in text.split())


def cut(text, budget, count=words, **kwargs) -> list[Passage]:
    return list(split_passages(text, "doc.md", count_tokens=count, chunk_tokens=budget, **kwargs))


def assert_within(passages: list[Passage], budget: int, count=words) -> None:
    for passage in passages:
        assert count(passage.text) <= budget or len(passage.text) == 1


def test_paragraphs_merge_while_they_fit():
    text = "One two three.\n\nFour five six.\n\nSeven eight nine.\n\nTen eleven twelve."
    passages = cut(text, 7)
    assert [p.text for p in passages] == [
        "One two three.\n\nFour five six.",
        "Seven eight nine.\n\nTen eleven twelve.",
    ]
    assert_faithful(text, passages)


def test_a_paragraph_that_fits_alone_is_never_split_across_passages():
    text = "a b c d e f.\n\ng h i j. k l m n."
    passages = cut(text, 9)
    assert [p.text for p in passages] == ["a b c d e f.", "g h i j. k l m n."]


def test_headings_start_a_passage_and_belong_to_it():
    text = (
        "Intro words here.\n\n# First\n\nBody of first.\n"
        "## Second right after a line\nBody of second.\n\n#not-a-heading stays inline."
    )
    passages = cut(text, 50)
    assert [p.text for p in passages] == [
        "Intro words here.",
        "# First\n\nBody of first.",
        "## Second right after a line\nBody of second.\n\n#not-a-heading stays inline.",
    ]
    assert_faithful(text, passages)


def test_a_heading_is_not_left_alone_when_its_paragraph_fits_only_by_itself():
    paragraph = " ".join(f"Sentence {i} here." for i in range(6))  # 18 words
    text = f"## Billing\n\n{paragraph}\n\nNext paragraph."
    passages = cut(text, 18)
    assert [p.text for p in passages] == [
        "## Billing\n\nSentence 0 here. Sentence 1 here. Sentence 2 here. Sentence 3 here. Sentence 4 here.",
        "Sentence 5 here.\n\nNext paragraph.",
    ]
    assert_faithful(text, passages)


def test_headings_in_a_row_share_the_passage_of_the_text_under_them():
    text = "Intro.\n\n# Guide\n\n## Setup\n\n### Linux\n\nRun make.\n\n# Next\n\nMore."
    passages = cut(text, 50)
    assert [p.text for p in passages] == [
        "Intro.",
        "# Guide\n\n## Setup\n\n### Linux\n\nRun make.",
        "# Next\n\nMore.",
    ]
    assert_faithful(text, passages)


def test_headings_in_a_row_that_do_not_fit_together_still_start_passages():
    text = "# one two three\n\n# four five six\n\nseven eight."
    passages = cut(text, 6)
    assert [p.text for p in passages] == ["# one two three", "# four five six\n\nseven eight."]


def test_a_heading_with_no_text_after_it_joins_the_passage_before_it():
    text = "# Install\n\nRun make.\n\n# Appendix\n"
    passages = cut(text, 50)
    assert [p.text for p in passages] == ["# Install\n\nRun make.\n\n# Appendix"]
    assert_faithful(text, passages)
    # Unless it does not fit there; and a document that is only a heading keeps it.
    assert [p.text for p in cut(text, 4)] == ["# Install\n\nRun make.", "# Appendix"]
    assert [p.text for p in cut("# Title only\n", 50)] == ["# Title only"]


def test_a_heading_at_the_foot_of_a_page_joins_the_text_it_heads():
    text = "Intro para.\n\n# Chapter 2\n\f\nText of chapter two.\n\fNext page."
    passages = cut(text, 50)
    assert [p.text for p in passages] == [
        "Intro para.",
        "# Chapter 2\n\f\nText of chapter two.",
        "Next page.",
    ]
    assert_faithful(text, passages)
    # Only a marked heading: a first line that looks like a title may be a sentence the break cut.
    assert [p.text for p in cut("Chapter 2\n\f\nText.", 50)] == ["Chapter 2", "Text."]
    # The same in a plain-text file's structured blocks.
    blocks = [Block("Intro."), Block("Chapter 2", heading=True), Block("\fText of chapter two.")]
    joined = list(split_blocks(blocks, "doc", count_tokens=words, chunk_tokens=50))
    assert [p.text for p in joined] == ["Intro.", "Chapter 2\n\n\fText of chapter two."]


def test_a_form_feed_ends_a_paragraph_and_its_passage():
    text = "Page one ends here\fpage two starts\nand goes on\n\f\nPage three\n\nstill three"
    passages = cut(text, 50)
    assert [p.text for p in passages] == [
        "Page one ends here",
        "page two starts\nand goes on",
        "Page three\n\nstill three",
    ]
    assert_faithful(text, passages)


def _printed(pages: list[str], header: str | None, footer: str | None) -> str:
    """Pages as a line printer or an RFC sets them: header, body, footer, form feeds between."""
    out = []
    for number, body in enumerate(pages, 1):
        top = f"{header.format(number)}\n\n" if header and number > 1 else ""
        bottom = f"\n\n{footer.format(number)}\n" if footer else "\n"
        out.append(f"{top}{body}{bottom}")
    return "\f\n".join(out)


def test_running_headers_and_footers_of_form_feed_pages_are_not_read():
    bodies = [f"Memo of the board.\n\nItem {n} was approved after a long\ndiscussion." for n in range(1, 7)]
    bodies[0] = "THE TRANSPORT PROTOCOL\n\n" + bodies[0]
    header = "RFC 793          Transmission Control Protocol          September 1981"
    text = _printed(bodies, header, "Postel                                  [Page {}]")
    for markdown in (False, True):
        passages = list(split_passages(text, "doc.md", count_tokens=words, chunk_tokens=200, markdown=markdown))
        assert_faithful(text, passages, page_furniture=True, markdown=markdown)
        read = "\n".join(p.text for p in passages)
        assert "RFC 793" not in read and "Postel" not in read
        assert read.startswith("THE TRANSPORT PROTOCOL")
        assert all(f"Item {n} was approved" in read for n in range(1, 7))
    # A bare page number at the foot of each page; the first page's top line is its title
    # even when every later page repeats it as the header.
    text = _printed(bodies[:4], "THE TRANSPORT PROTOCOL", "- {} -")
    read = [p.text for p in cut(text, 200)]
    assert read[0].startswith("THE TRANSPORT PROTOCOL\n\nMemo of the board.")
    assert "\n".join(read).count("THE TRANSPORT PROTOCOL") == 1 and " -" not in "\n".join(read)
    # Three pages: a header on the two after the first is enough, when it has a few words.
    text = _printed(bodies[:3], "Quarterly report of the board", None)
    assert "Quarterly" not in "\n".join(p.text for p in cut(text, 200))


def test_a_page_footer_left_out_is_never_inside_a_passage_and_page_numbers_go_in_a_two_page_text():
    # A heading at the foot of a page joins the next page's text only across nothing but space.
    text = (
        "Intro text here.\n\nThe doc, foot 1\n\f\nSetup is easy.\n\n## Calibration\n\n"
        "The doc, foot 2\n\f\nTurn the knob.\n\nThe doc, foot 3\n"
    )
    for markdown in (True, False):
        passages = list(split_passages(text, "d.md", count_tokens=words, chunk_tokens=200, markdown=markdown))
        assert_faithful(text, passages, source="d.md", page_furniture=True)
        assert not any("foot" in p.text for p in passages)
    text = "First page text is here.\n\n1\n\f\nSecond page text is here.\n\n- 2 -\n"
    assert [p.text for p in cut(text, 50)] == ["First page text is here.", "Second page text is here."]
    # Page counters at a line's end, after "page", or as "N of M".
    for footer in ("Acme report, page {} of 4", "{} / 4", "Postel            [Page {}]", "Chapter {}"):
        text = "\f\n".join(f"Body {n} text here.\n\n{footer.format(n)}" for n in range(1, 5))
        assert [p.text for p in cut(text, 50)] == [f"Body {n} text here." for n in range(1, 5)], footer


def test_page_edges_that_are_headings_sentences_or_data_are_read():
    bodies = ["It was a dark night.", "The rain fell.", "It stopped.", "A gust came.", "It swept the streets."]
    for pages in (
        [f"# Chapter {n}\n\n{body}" for n, body in enumerate(bodies, 1)],  # Markdown headings
        [f"Notes\n\n{body}" for body in bodies],  # a word alone
        [f"2024-03-0{n}\n\n{body}" for n, body in enumerate(bodies, 1)],  # a date a page
        [f"{body}\n\nThe committee then met." for body in bodies[:3]],  # a sentence
        [f"{body}\n\nPAGE TOTAL  {n * 1234}.00" for n, body in enumerate(bodies, 1)],  # data
        # A number inside the line that goes up a page at a time is not a page counter.
        [f"Question {n} (10 marks)\n\n{body}" for n, body in enumerate(bodies, 1)],
        [f"{body}\n\nrow {n} 5 kg" for n, body in enumerate(bodies, 1)],
        # Release notes a page each: the numbers do not count the pages, even where one
        # of them (the day) does so on two pages.
        [f"* Changes in release 9.{n} (2023-0{n}-01) [stable]\n\n{body}" for n, body in zip(range(6, 1, -1), bodies)],
    ):
        text = "\f\n".join(pages)
        assert_faithful(text, cut(text, 200))


def test_a_text_without_form_feeds_is_not_held_to_look_for_page_furniture():
    read = []

    def endless():
        while True:
            read.append(len(read) + 1)
            yield f"Paragraph {len(read)} of an endless stream.\n\n"

    passages = split_passages(endless(), "-", count_tokens=words, chunk_tokens=12)
    assert next(passages).text == "Paragraph 1 of an endless stream.\n\nParagraph 2 of an endless stream."
    assert len(read) <= 8  # the first passage leaves once the next two are under way


def test_page_edges_that_do_not_repeat_or_text_without_form_feeds_are_read_whole():
    # The same short line opening every paragraph, but no pages: it is text.
    text = "\n\n".join(["Approved.", "Item one.", "Approved.", "Item two.", "Approved."] * 3)
    assert_faithful(text, cut(text, 20))
    # Pages whose first lines differ, and a line that repeats mid-page, not at an edge.
    pages = ["Step one\n\nDo this.", "Step two\n\nDone.", "Step three\n\nDone.\n\nDone.\n\nAll set."]
    text = "\f\n".join(pages)
    assert_faithful(text, cut(text, 50))
    # A "page" of more paragraphs than a printed page holds is not held in memory to be
    # judged: from there on the text is read as it is, headers and all.
    many = "\n\n".join(f"Line {n} of the log." for n in range(chunking._PAGE_SPANS + 50))
    text = f"Header line here\n\nfirst.\f\nHeader line here\n\n{many}\f\nHeader line here\n\nlast."
    passages = cut(text, 5000)
    assert_faithful(text, passages, page_furniture=True, markdown=True)
    assert passages[-1].text == "Header line here\n\nlast."


def test_without_markdown_hash_lines_are_text():
    text = "Notes follow.\n# 1 is safety\n# 2 is cost\n\nEnd."
    passages = list(split_passages(text, "notes.txt", count_tokens=words, chunk_tokens=50, markdown=False))
    assert [p.text for p in passages] == [text]
    assert len(cut(text, 50)) == 2  # as Markdown, each '# ' line starts a passage


def test_hash_lines_inside_a_code_fence_are_not_headings():
    text = "Setup:\n\n```sh\n# install it\npip install .\n```\n\n# Usage\nRun it."
    passages = cut(text, 50)
    assert [p.text for p in passages] == [
        "Setup:\n\n```sh\n# install it\npip install .\n```",
        "# Usage\nRun it.",
    ]


def test_a_long_paragraph_is_split_at_sentence_ends():
    sentences = [f"Sentence number {i} has six words." for i in range(10)]
    text = " ".join(sentences)
    passages = cut(text, 13)
    assert [p.text for p in passages] == [" ".join(sentences[i : i + 2]) for i in range(0, 10, 2)]
    assert_faithful(text, passages)


def test_sentence_ends_include_questions_quotes_and_cjk_full_stops():
    text = 'Is it? "Yes!" she said. Then… more. 第一句。第二句。'
    passages = cut(text, 2, count=lambda s: len(re.findall(r"[.?!\u2026\u3002]", s)) or 1)
    assert [p.text for p in passages] == ['Is it? "Yes!"', "she said. Then…", "more. 第一句。", "第二句。"]
    assert_faithful(text, passages)


def test_abbreviations_initials_and_a_small_letter_after_a_period_do_not_end_a_sentence():
    text = (
        "We met Dr. Lee of the U.S. office and J. Smith in No. 5 on Tuesday. "
        "The sites, e.g. the delta, were visited twice, i.e. in April and June."
    )
    passages = cut(text, 16)
    assert [p.text for p in passages] == [
        "We met Dr. Lee of the U.S. office and J. Smith in No. 5 on Tuesday.",
        "The sites, e.g. the delta, were visited twice, i.e. in April and June.",
    ]
    assert_faithful(text, passages)
    # "no" before a capital ends a sentence; only "No." before a number is an abbreviation.
    assert [p.text for p in cut("The answer was no. Then we left.", 4)] == ["The answer was no.", "Then we left."]


def test_numbered_items_and_table_rows_are_cut_at_their_lines_not_at_periods_inside_them():
    steps = "1. Download the archive. Check its key\n2. Unpack it. Open a terminal\n3. Run the installer\n4. Restart"
    passages = cut(steps, 13)
    assert [p.text for p in passages] == [
        "1. Download the archive. Check its key\n2. Unpack it. Open a terminal",
        "3. Run the installer\n4. Restart",
    ]
    table = "| Option | Meaning |\n| --threads | CPU threads. Zero means all. |\n| --seed | Random seed. |"
    passages = cut(table, 12)
    assert all(p.text.startswith("|") and p.text.endswith("|") for p in passages), passages
    assert_faithful(table, passages)


@pytest.mark.parametrize(
    "block",
    [
        "```markdown\nA tilde fence:\n~~~\n# install\n~~~\n# a comment\n```",
        "````\n```\n# a comment\n```\n# another\n````",
    ],
    ids=["tildes-in-backticks", "three-in-four"],
)
def test_a_fence_closes_only_at_its_own_kind_and_length(block):
    text = f"Intro.\n\n{block}\n\n# Next\nMore."
    passages = cut(text, 60)
    assert [p.text for p in passages] == [f"Intro.\n\n{block}", "# Next\nMore."]


def test_inline_triple_backticks_open_no_fence():
    text = "# One\n```x``` is inline code.\n\n# Two\nText two.\n\n# Three\nText three."
    assert [p.text.split("\n")[0] for p in cut(text, 8)] == ["# One", "# Two", "# Three"]


def test_a_long_list_is_split_at_line_breaks_and_its_heading_keeps_its_start():
    items = [f"- item number {i} on the list" for i in range(30)]
    text = "Before.\n\n## Shopping\n" + "\n".join(items)
    passages = cut(text, 20)
    assert passages[0].text == "Before."
    assert passages[1].text.startswith("## Shopping\n- item number 0")
    for passage in passages[1:]:
        assert all(line.startswith(("- item", "## ")) for line in passage.text.splitlines())
    # Items have 7 words: two per passage (three would be 21), plus the heading in the first.
    assert [words(p.text) for p in passages[1:]] == [16] + [14] * 14
    assert_faithful(text, passages)
    assert_within(passages, 20)


def test_a_long_paragraph_first_fills_the_open_passage():
    text = "Short intro.\n\n" + " ".join(f"Sentence {i} here." for i in range(20))
    passages = cut(text, 11)
    assert passages[0].text == "Short intro.\n\nSentence 0 here. Sentence 1 here. Sentence 2 here."
    assert_faithful(text, passages)


def test_a_long_sentence_is_split_at_whitespace():
    text = " ".join(f"w{i}" for i in range(25)) + "."
    passages = cut(text, 10)
    assert [words(p.text) for p in passages] == [10, 10, 5]
    assert_faithful(text, passages)
    assert_within(passages, 10)


def test_a_long_word_is_split_between_characters():
    word = "x" * 200
    text = f"short {word} tail"
    passages = cut(text, 5, count=long_words_cost_more)
    assert_faithful(text, passages)
    assert_within(passages, 5, count=long_words_cost_more)
    assert "".join(p.text for p in passages).replace(" ", "") == text.replace(" ", "")
    assert len(passages) > 3


def test_a_single_character_over_budget_is_kept_not_dropped():
    passages = cut("ab", 1, count=lambda s: 5 * len(s))
    assert [p.text for p in passages] == ["a", "b"]


def test_passages_are_stripped_and_offsets_point_at_the_stripped_text():
    text = "\n\n   Leading and trailing.   \n\n\t\n  Second one.\n\n\n"
    passages = cut(text, 3)
    first, second = text.index("Leading"), text.index("Second")
    assert [(p.text, p.char_start, p.char_end) for p in passages] == [
        ("Leading and trailing.", first, first + 21),
        ("Second one.", second, second + 11),
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \t\r\n \u3000 "])
def test_empty_or_blank_text_yields_no_passages(text):
    assert cut(text, 10) == []


def test_text_given_in_chunks_of_any_size_cuts_the_same():
    text = SAMPLE.read_text(encoding="utf-8")
    whole = cut(text, 60)
    for size in (1, 7, 64, 4096):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert cut(iter(pieces), 60) == whole


def test_a_paragraph_without_blank_lines_is_cut_in_bounded_parts(monkeypatch):
    monkeypatch.setattr(chunking, "PARAGRAPH_CHAR_LIMIT", 300)
    sentence_text = " ".join(f"Sentence {i} is here." for i in range(200))
    run_on = " ".join(f"w{i}" for i in range(300))
    one_word = "y" * 1000
    text = sentence_text + "\n" + run_on + "\n" + one_word
    # A counter that would let everything through: only the character bound limits passages.
    passages = cut(iter(text[i : i + 50] for i in range(0, len(text), 50)), 10**9, count=lambda s: 1)
    assert_faithful(text, passages)
    assert all(len(p.text) <= 300 for p in passages)


def test_the_real_mistral_tokenizer_keeps_every_passage_within_budget():
    import mistral_common
    import sentencepiece

    model = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(model))

    def count(text: str) -> int:
        return len(tokenizer.encode(text))

    text = SAMPLE.read_text(encoding="utf-8")
    for budget in (16, 64, 200):
        passages = cut(text, budget, count=count)
        assert_faithful(text, passages)
        assert_within(passages, budget, count=count)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    passages = cut(text, 200, count=count)
    assert [p.text.splitlines()[0] for p in passages if p.text.startswith("#")] == headings


def test_chunk_tokens_must_be_positive():
    with pytest.raises(ValueError):
        cut("text", 0)


_TEXT = st.lists(
    st.sampled_from(list("ab xyz.!?#\n\n\n\r\t`~\u3002\u2026\u00a0\u2028\x0c\"')é") + ["```", "# ", "\n# ", "\n\n"]),
    max_size=200,
).map("".join)

# Prose-like text: words, sentence ends and every kind of whitespace between them, so that long
# paragraphs are split and their pieces joined again.
_PROSE = st.lists(
    st.tuples(
        st.sampled_from(["a", "word", "Dr.", "x" * 30, "é", "#", "##", "```", "。", "end.", "why?", '"no!"']),
        st.sampled_from([" ", " ", " ", "  ", "\t", "\n", " \n ", "\n\n", "\r\n", "\u2028", ""]),
    ),
    max_size=120,
).map(lambda pairs: "".join(w + s for w, s in pairs))

_COUNTERS = st.sampled_from(
    [
        words,
        long_words_cost_more,
        len,
        lambda s: len(s) % 7,  # not monotonic: limits must still hold, nothing dropped
        lambda s: len(re.findall(r"\w+|[^\w\s]", s)),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(_PROSE, _TEXT, st.text(max_size=300)),
    budget=st.integers(1, 40),
    count=_COUNTERS,
    chunk_size=st.integers(1, 500),
    limit=st.sampled_from([None, 40, 97]),
)
def test_any_text_is_cut_faithfully(text, budget, count, chunk_size, limit):
    original = chunking.PARAGRAPH_CHAR_LIMIT
    if limit is not None:
        chunking.PARAGRAPH_CHAR_LIMIT = limit
    try:
        chunks = iter([text[i : i + chunk_size] for i in range(0, len(text), chunk_size)])
        passages = cut(chunks, budget, count=count)
    finally:
        chunking.PARAGRAPH_CHAR_LIMIT = original
    assert_faithful(text, passages, page_furniture=True, markdown=True)
    assert_within(passages, budget, count=count)
    if limit is not None:
        assert all(len(p.text) <= limit for p in passages)


def test_a_first_sentence_too_long_to_join_its_heading_is_cut_rather_than_leave_the_heading_alone():
    sentence = "The committee reviewed every application that arrived before the deadline yesterday."
    text = f"# Funding\n\n{sentence} The board met in May."
    passages = cut(text, 12)  # 11 words: it fits a passage alone, not beside the heading's 2
    assert passages[0].text.startswith("# Funding\n\nThe committee reviewed")
    assert all(p.text != "# Funding" for p in passages)
    assert_faithful(text, passages)
    assert_within(passages, 12)


def test_hash_lines_inside_an_html_comment_are_not_headings_and_the_comment_is_left_out():
    text = "Intro.\n\n<!--\n# not a heading\nstill the comment\n-->\n\n# Real\nBody."
    assert [p.text for p in cut(text, 40)] == ["Intro.", "# Real\nBody."]
    # Inside a paragraph that shows text, a comment is kept with it (passages are slices).
    inline = "Intro <!-- a note --> here.\n\n# Real\nBody."
    assert [p.text for p in cut(inline, 40)] == ["Intro <!-- a note --> here.", "# Real\nBody."]


def test_inline_comment_markup_a_decimal_and_a_number_wrapped_to_a_line_start_are_what_they_are():
    text = "# Intro\n\nWrite `<!--` to start a comment.\n\n# Setup\n\nInstall it."
    assert [p.text.split("\n")[0] for p in cut(text, 12)] == ["# Intro", "# Setup"]
    assert [p.text for p in cut("Prices rose by 2.5. The board met.", 4)] == ["Prices rose by 2.5.", "The board met."]
    assert [p.text for p in cut("The costs rose by\n12. The board met.", 5)] == [
        "The costs rose by\n12.",
        "The board met.",
    ]
    # A list after a line that opens it keeps its numbers with its items.
    listed = "Steps:\n1. Unpack it now\n2. Run it now"
    assert [p.text for p in cut(listed, 5)] == ["Steps:\n1. Unpack it now", "2. Run it now"]


def test_filling_a_headings_passage_never_cuts_a_word_that_fits_a_passage_alone():
    text = "# Heading here\n\nSupercalifragilistic is a word."
    passages = cut(text, 20, count=len)
    assert "Supercalifragilistic" in [p.text.split()[0] for p in passages] + [
        w for p in passages for w in p.text.split()
    ]
    assert_faithful(text, passages)


def test_a_numbered_list_without_a_colon_keeps_its_numbers_with_its_items():
    text = (
        "Installation steps\n1. Download the installer and keep it.\n"
        "2. Run the installer and wait until it has\nfinished copying.\n3. Restart the machine before use."
    )
    passages = cut(text, 15)
    assert [p.text for p in passages] == [
        "Installation steps\n1. Download the installer and keep it.",
        "2. Run the installer and wait until it has\nfinished copying.",
        "3. Restart the machine before use.",
    ]
    assert_faithful(text, passages)


def test_a_heading_over_unspaced_text_takes_its_first_characters():
    text = "# 製品の概要\n\n" + "本製品は高性能な計算機であり多くの用途に使われている" * 2 + "。次の文です。"
    passages = cut(text, 40, count=len)
    assert passages[0].text.startswith("# 製品の概要\n\n本製品")
    assert_faithful(text, passages)


def test_a_title_line_not_marked_as_a_heading_is_not_left_alone():
    # A PDF's or a plain Word file's first line: a title the reader cannot mark as a heading.
    text = "Harbor Street pilot report\n\n## Summary\n\nThe street closed on weekends.\n\n## Traffic\n\nQueues grew."
    assert [p.text for p in cut(text, 12)] == [
        "Harbor Street pilot report\n\n## Summary\n\nThe street closed on weekends.",
        "## Traffic\n\nQueues grew.",
    ]
    blocks = [Block("Lending handbook"), Block("Loans", heading=True), Block("Members borrow twelve items.")]
    assert [p.text for p in split_blocks(blocks, "doc", count_tokens=words, chunk_tokens=20)] == [
        "Lending handbook\n\nLoans\n\nMembers borrow twelve items."
    ]
    # A sentence, a list item or a table row before a heading is not a title.
    for line in ("The report follows.", "- first item", "| a | b |", "Book | 0.20 EUR"):
        assert [p.text for p in cut(f"{line}\n\n## Summary\n\nText here.", 12)] == [line, "## Summary\n\nText here."]
    assert_faithful(text, cut(text, 12))
    # Only a document's first line: later, a short line (a signature) does not head the
    # next section.
    full = " ".join(["word"] * 13) + "."
    signed = f"{full}\n\nJane Doe\n\n## Appendix\n\nThe appendix lists the figures."
    assert [p.text for p in cut(signed, 14)] == [full, "Jane Doe", "## Appendix\n\nThe appendix lists the figures."]


def test_unspaced_text_that_fills_a_passage_is_cut_between_characters_not_crashed_on():
    text = "\u672c" * 59 + "\n\n\u4ed5\u69d8\u306f\u4ee5\u4e0b\u306e\u901a\u308a\u3067\u3059\u3002"
    passages = cut(text, 60, count=len)
    assert [len(p.text) for p in passages] == [59, 11]
    assert_faithful(text, passages)
    # A heading that nearly fills the budget, then a run of Chinese characters.
    text = "## " + "\u984c" * 58 + "\n\n" + "\u6587" * 30
    passages = cut(text, 62, count=len)
    assert all(len(p.text) <= 62 for p in passages)
    assert_faithful(text, passages)


def test_a_markdown_table_of_contents_is_left_out_with_the_headings_above_it():
    text = (
        "# Guide\n\n## Contents\n\n- [Install](#install)\n- [Use](#use)\n  1. [Advanced](#advanced)\n\n"
        "## Install\n\nRun make.\n\n[[_TOC_]]\n\n## Use\n\nCall it.\n\n"
        "## Links\n\n- [Python](https://python.org)\n- [Docs](https://docs.python.org)\n"
    )
    passages = cut(text, 60)
    assert [p.text for p in passages] == [
        "## Install\n\nRun make.",
        "## Use\n\nCall it.",
        # Links to other pages are text; only links to the page's own headings make contents.
        "## Links\n\n- [Python](https://python.org)\n- [Docs](https://docs.python.org)",
    ]
    assert [p.index for p in passages] == [0, 1, 2]
    for passage in passages:
        assert text[passage.char_start : passage.char_end] == passage.text
    # A plain-text file's lines are its text, whatever they look like.
    assert "[Install](#install)" in cut(text, 500, markdown=False)[0].text
    # In code, fenced (its blank lines make it several paragraphs) or indented, it is an example.
    fenced = "A contents list looks like:\n\n```md\n- [A](#a)\n- [B](#b)\n- [C](#c)\n\n```\n\nDone.\n"
    assert [p.text for p in cut(fenced, 60)] == [fenced.strip()]
    indented = "Like this:\n\n    - [A](#a)\n    - [B](#b)\n    - [C](#c)\n"
    assert [p.text for p in cut(indented, 60)] == [indented.strip()]
    # Two such links are as likely a sentence's list: text.
    two = "Two ways:\n\n- [ensurepip](#ensurepip)\n- [get-pip.py](#get-pip)\n"
    assert [p.text for p in cut(two, 60)] == [two.strip()]


_MARKUP_PIECES = st.sampled_from(
    [
        "<!--",
        "-->",
        "<b>",
        "</b>",
        "<h2>",
        "</h2>",
        "[",
        "]",
        "(",
        ")",
        "!",
        "# ",
        "##",
        " ",
        "\n",
        "\n\n",
        "---",
        "===",
        "```",
        "    ",
        "x",
        "Word.",
        ":",
        "`",
        "+++",
        "key: v",
        "\f",
        "[^1]: ",
        "*",
        "\u2705",
        "&nbsp;",
        "[![b](c)](d)",
    ]
)


@settings(max_examples=400, deadline=None)
@given(text=st.lists(_MARKUP_PIECES, max_size=60).map("".join), budget=st.integers(1, 30))
def test_markdown_markup_of_any_shape_leaves_out_only_what_shows_no_text(text, budget):
    assert_faithful(text, cut(text, budget), page_furniture=True, markdown=True)


def test_a_readmes_front_matter_logo_badges_comments_and_link_definitions_are_left_out():
    text = (
        "---\ntitle: Deploy guide\n\ntags: [ops]\n---\n\n"
        '<p align="center">\n  <img src="docs/logo.png" alt="Quarry" width="240">\n</p>\n\n'
        '<h1 align="center">Quarry</h1>\n\n'
        "[![CI](https://example.com/ci.svg)](https://example.com/ci) "
        "[![PyPI][pypi-badge]][pypi]\n\n"
        "Quarry ships every release through a staged rollout.\n\n"
        "<!--\nTODO: move this section.\n\nIt is out of date.\n-->\n\n"
        "## Rollback\n\nA rollback takes ten minutes; see the [runbook][runbook].\n\n"
        "![Rollback flow](docs/flow.png)\n\n"
        "<details>\n<summary>Old procedure</summary>\n\nA manual script.\n\n</details>\n\n"
        "***\n\n"
        "[runbook]: https://wiki.example.com/runbook\n[pypi]: https://pypi.org/p/quarry 'PyPI'\n"
    )
    passages = cut(text, 80)
    assert [p.text for p in passages] == [
        # The HTML title above the badges goes with them, as a table of contents' title does.
        "Quarry ships every release through a staged rollout.",
        "## Rollback\n\nA rollback takes ten minutes; see the [runbook][runbook].\n\n"
        # A lone image is a figure, its description its text; inside a link it is a badge.
        "![Rollback flow](docs/flow.png)\n\n<details>\n<summary>Old procedure</summary>\n\nA manual script.",
    ]
    assert_faithful(text, passages, markdown=True)
    # A plain-text file's lines are its text, whatever they look like.
    assert "[![CI]" in "".join(p.text for p in cut(text, 500, markdown=False))


def test_front_matter_is_only_a_first_line_fence_around_keys_that_closes():
    toml = '+++\ntitle = "Notes"\n+++\n\nThe notes.'
    assert [p.text for p in cut(toml, 40)] == ["The notes."]
    dots = "---\nlayout: post\n...\nThe post."
    assert [p.text for p in cut(dots, 40)] == ["The post."]
    # A thematic break first, then text: no keys, so no front matter; the break alone goes.
    rule = "---\nThe minutes of the meeting.\n---\n\nMore."
    assert "The minutes of the meeting." in cut(rule, 40)[0].text
    unclosed = "---\nnote: this line has a colon\n\nAnd the text goes on."
    assert "note: this line has a colon" in cut(unclosed, 40)[0].text
    # A line of prose inside: no front matter, however it opens.
    prose = "---\nStatus: Draft\n\n# Design\n\nThe design text matters.\n\n---\n\nMore."
    assert any("The design text matters." in p.text for p in cut(prose, 40))
    # Empty, and with lists, block values and comments.
    assert [p.text for p in cut("---\n---\n\nHello.", 40)] == ["Hello."]
    yaml = "---\ntags:\n  - a\n- b\ndescription: |\n  Long text.\n# a comment\n---\nBody."
    assert [p.text for p in cut(yaml, 40)] == ["Body."]
    # Not at the first line: a thematic break and a setext heading.
    later = "Intro.\n\n---\ntitle: x\n---\n\nBody."
    assert "title: x" in "".join(p.text for p in cut(later, 3))


def test_setext_headings_start_passages_and_a_line_over_a_rule_in_a_paragraph_does_not():
    text = "Quarry\n======\n\nIt ships releases.\n\nRollback\n--------\n\nIt takes ten minutes."
    assert [p.text for p in cut(text, 10)] == [
        "Quarry\n======\n\nIt ships releases.",
        "Rollback\n--------\n\nIt takes ten minutes.",
    ]
    # Under several lines, or under a list item, "---" is no underline: the text stays one.
    several = "First line of it\nsecond line of it\n---\nthird line."
    assert [p.text for p in cut(several, 40)] == [several]
    item = "- an item\n---\nText after."
    assert [p.text for p in cut(item, 40)] == [item]


def test_a_heading_goes_with_badges_below_it_and_keeps_other_markup_below_it_in_its_passage():
    badges = "# Quarry\n\n[![CI](https://example.com/ci.svg)](https://example.com/ci)\n\nQuarry ships releases."
    assert [p.text for p in cut(badges, 40)] == ["Quarry ships releases."]
    # A section's heading stays over its text: the markup between stays with it.
    summary = "## Summary\n\n<!-- What does this change do? -->\n\n<div>\n\nFixes the login crash.\n\n</div>"
    assert [p.text for p in cut(summary, 40)] == [summary.removesuffix("\n\n</div>")]
    # A first line that only looks like a title may be a sentence: it is never dropped.
    plain = "Call me at five\n\n---\n\nThe rest of the note."
    assert [p.text for p in cut(plain, 40)] == ["Call me at five", "The rest of the note."]
    contents = "Please read the install notes first\n\n- [Install](#install)\n- [Use](#use)\n- [API](#api)\n\nBody."
    assert [p.text for p in cut(contents, 40)] == ["Please read the install notes first", "Body."]


def test_only_ascii_punctuation_and_markup_count_as_showing_no_text():
    text = (
        "\u2705 \u2705 \u274c\n\n\u2192\n\n<p>&nbsp;</p>\n\n![PyPI](https://img.shields.io/pypi/v/x)\n\n"
        "[![CI]][ci]\n\n`<br>`\n\nEnd."
    )
    assert [p.text for p in cut(text, 60)] == ["\u2705 \u2705 \u274c\n\n\u2192", "`<br>`\n\nEnd."]


def test_markup_checks_take_linear_time_on_long_unclosed_runs():
    # Quadratic patterns took tens of seconds to an hour here; each check is bounded now.
    texts = [
        "<!-- x " * 20_000 + "\n\nText.",
        " ".join("`" * (n % 50 + 1) for n in range(20_000)) + "\n\nText.",
        "![" * 50_000 + "\n\nText.",
        "[![a](" * 20_000 + "\n\nText.",
        "---\n" + " " * 100_000 + "x\n---\n\nText.",
        "<!-- -->\n" * 100_000 + "x\n\nText.",
        "\n\n".join(["![](badge" * 2_000] * 3) + "\n\nText.",
        "<!--a-->" * 12_000 + " w " + "`x` " * 12_000 + "\n\nText.",
    ]
    for text in texts:
        assert cut(text, 10**6, count=len)[-1].text.endswith("Text.")


def test_no_passage_reaches_across_a_comment_cut_off_a_paragraph_and_unclosed_ones_stay_text():
    cases = {
        "Fix the crash. <!-- issue -->\n\nSee the log.\n<!--\n\nold notes\n-->": ["Fix the crash.", "See the log."],
        "a\n<!--\n\n-->x\n<!--": ["a", "x\n<!--"],
        # A comment inside a code span is code; "<!-->" is a whole comment.
        "A comment opens with `<!--` and closes with -->": ["A comment opens with `<!--` and closes with -->"],
        "a <!--> b -->": ["a <!--> b -->"],
    }
    for text, expected in cases.items():
        passages = cut(text, 40)
        assert [p.text for p in passages] == expected, text
        assert_faithful(text, passages, markdown=True)
    # Past the cap, an unclosed comment's paragraphs are text, headings and all.
    stray = "Intro.\n\n<!--\n\n" + "\n\n".join(f"Note {n}." for n in range(60)) + "\n\n# Usage\n\nRun it."
    passages = cut(stray, 400)
    assert passages[-1].text == "# Usage\n\nRun it." and "Note 0." in passages[0].text
    # The text after a comment closes is read as any other: a fence opened there is code.
    fenced = "<!--\nnote\n\n-->\n```html\n<!-- example\n\ncode line\n```\n\nAfter text.\n\nEnd."
    assert [p.text for p in cut(fenced, 40)] == ["```html\n<!-- example\n\ncode line\n```\n\nAfter text.\n\nEnd."]
    # Code after a comment closes keeps its own comments, and nothing joins across them.
    code = "<!--\nTODO\n\n-->\n```html\n<p>Hi</p> <!-- greeting -->\n\n<p>Bye</p>\n```\n"
    passages = cut(code, 40)
    assert [p.text for p in passages] == ["```html\n<p>Hi</p> <!-- greeting -->\n\n<p>Bye</p>\n```"]
    assert_faithful(code, passages, markdown=True)
    # A fence inside a comment is commented out: no code block opens, nothing is lost after it.
    commented = "Intro.\n\n<!--\n```bash\npip install old\n\npip install older\n```\n-->\n\nBody."
    assert [p.text for p in cut(commented, 40)] == ["Intro.", "Body."]
    flipped = "Intro.\n\n<!-- note\n```\n-->\n\nA.\n\n```\n\n<!--\n\nreal code text\n\n```\n\nEnd text.\n\nLast."
    read = " ".join(p.text for p in cut(flipped, 400))
    assert "real code text" in read and "End text." in read and "note" not in read
    # The first comment that does not close hides what follows it.
    first = "A.\n<!-- a\n<!-- b\n\nhidden\n\n-->\n\nB."
    assert [p.text for p in cut(first, 40)] == ["A.", "B."]
    # A comment of several paragraphs under a heading is not read into the heading's passage.
    old = "## Install\n\n<!--\nOLD: run it by hand.\n\nRemoved in 2.0.\n-->\n\nRun pip install quarry."
    assert all("OLD" not in p.text and "Removed" not in p.text for p in cut(old, 40))


def test_comments_code_and_text_beside_markup_are_read_as_a_page_shows_them():
    # A paragraph with text before a comment that runs on keeps its text, not the comment.
    text = "Intro text.\n<!-- hidden\n\nstill hidden\n-->\n\nShown."
    assert [p.text for p in cut(text, 30)] == ["Intro text.", "Shown."]
    # A comment closed at a paragraph's start or end goes; the text beside it stays.
    template = "<!--\nPlease describe the bug.\n-->\n**Bug**: it crashes. <!-- and when? -->\n\nMore."
    assert [p.text for p in cut(template, 5)] == ["**Bug**: it crashes.", "More."]
    # A comment reopened after one closes is hidden too; a fence after it is code.
    reopened = "<!--\none\n\ntwo\n-->\nVisible text.\n<!-- again\n\nsecret\n\n-->"
    assert [p.text for p in cut(reopened, 30)] == ["Visible text."]
    fenced = "<!--\nnote\n\n-->\n```yaml\na: 1\n\n---\n\nb: 2\n```"
    assert [p.text for p in cut(fenced, 30)] == ["```yaml\na: 1\n\n---\n\nb: 2\n```"]
    # A "<!--" never closed is text after all.
    stray = "<!--\n\n" + "\n\n".join(f"Line {n}." for n in range(60))
    assert "Line 0." in cut(stray, 500)[0].text
    # Code shows its markup: fenced, indented and inline.
    code = "Example:\n\n```html\n<br>\n\n<div></div>\n```\n\n    <hr>\n\n`<br>`"
    assert [p.text for p in cut(code, 60)] == [code]
