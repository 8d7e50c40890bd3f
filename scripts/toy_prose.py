"""Real English prose for the toy Bonito's training corpus, and tasks built from any sentence.

Templated passages teach the format, but a model trained only on them answers from the
names and numbers it memorised rather than from the passage in front of it. Two sources
here push it to copy instead:

- paragraphs of real prose that ship with every Python: the reference manual's topics
  (``pydoc_data.topics``) and the docstrings of the standard library, read in a fixed order;
- words from the Mistral tokenizer's own vocabulary, for names, places and things the
  templates fill in, so that no answer can be learnt as a list.

Tasks on a prose paragraph come from its sentences alone: a span of a sentence (a number,
a capitalised name, the subject before its verb, the complement after "is") becomes the
answer of a question made from that sentence, so the answer is always a literal span.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import random
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PARAGRAPH_MIN_CHARS = 120
PARAGRAPH_MAX_CHARS = 900
# Share of letters and spaces a paragraph needs to count as prose rather than code.
PROSE_LETTER_SHARE = 0.9
_CODE_LIKE = re.compile(r">>>|::|[{}\[\]=_*`<>#@$\\|~^]|\(\)|--|\w\.\w+\(|\bdef\b|\breturn\b|https?:")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def _prose_paragraphs_of(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip("\n").split("\n")
        if any(line.startswith((" ", "\t")) for line in lines[1:]):
            continue  # an indented block: code, a table, a listing
        paragraph = " ".join(" ".join(line.split()) for line in lines).strip()
        if not PARAGRAPH_MIN_CHARS <= len(paragraph) <= PARAGRAPH_MAX_CHARS:
            continue
        if not paragraph.endswith(".") or not paragraph[0].isupper() or _CODE_LIKE.search(paragraph):
            continue
        if sum(c.isalpha() or c == " " for c in paragraph) < PROSE_LETTER_SHARE * len(paragraph):
            continue
        out.append(paragraph)
    return out


def read_stdlib_prose() -> tuple[str, ...]:
    """Prose paragraphs from the running Python's reference manual and standard-library docstrings."""
    from pydoc_data.topics import topics

    found: dict[str, None] = {}
    for key in sorted(topics):
        for paragraph in _prose_paragraphs_of(topics[key]):
            found[paragraph] = None
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py"))
    for path in files:
        if any(part in {"test", "tests", "idlelib", "lib2to3", "site-packages"} for part in path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                for paragraph in _prose_paragraphs_of(doc or ""):
                    found[paragraph] = None
    return tuple(found)


# The paragraphs as read from CPython 3.11's standard library, stored so that the corpus (and
# the toy trained on it) is the same under every Python: each version's docstrings differ.
# ``python scripts/toy_prose.py --write`` rereads them from the running Python.
PROSE_FILE = Path(__file__).with_name("toy_prose_paragraphs.json")


@functools.lru_cache(maxsize=1)
def prose_paragraphs() -> tuple[str, ...]:
    """The stored prose paragraphs (see :data:`PROSE_FILE`)."""
    return tuple(json.loads(PROSE_FILE.read_text(encoding="utf-8"))["paragraphs"])


def mistral_tokenizer_path() -> Path:
    """Mistral-7B's SentencePiece model: ``$TOY_TOKENIZER`` if set, else the copy that ships in
    the mistral-common wheel (a machine without that wheel can point at a copy)."""
    if os.environ.get("TOY_TOKENIZER"):
        return Path(os.environ["TOY_TOKENIZER"])
    try:
        import mistral_common
    except ImportError:
        sys.exit("mistral-common is not installed: pip install -e '.[dev]', or set TOY_TOKENIZER to tokenizer.model.v1")
    path = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    if not path.is_file():
        sys.exit(f"{path} not found: install mistral-common==1.3.0 (pip install -e '.[dev]')")
    return path


def words_by_kind(pieces, shortest: int = 4, longest: int = 12, longest_ending: int = 6):
    """(capitalised words, lower-case words, word endings) among Mistral tokenizer pieces, in
    their order: pieces that start a word and are ``shortest`` to ``longest`` Latin letters
    ("▁Harbor", "▁bridge"), and pieces that continue one, of 2 to ``longest_ending``
    lower-case letters ("ide", "ley")."""
    capitalised, lower, endings = [], [], []
    for piece in pieces:
        if not piece.startswith("▁"):
            if re.fullmatch(f"[a-z]{{2,{longest_ending}}}", piece):
                endings.append(piece)
            continue
        word = piece[1:]
        if shortest <= len(word) <= longest and re.fullmatch("[A-Z]?[a-z]+", word):
            (capitalised if word[0].isupper() else lower).append(word)
    return tuple(capitalised), tuple(lower), tuple(endings)


@functools.lru_cache(maxsize=1)
def _vocabulary() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    return words_by_kind(_pieces())


def vocabulary_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(capitalised words, lower-case words) that are whole pieces of the Mistral tokenizer."""
    return _vocabulary()[:2]


def word_endings() -> tuple[str, ...]:
    """Pieces of the Mistral tokenizer that continue a word ("ide", "ley"), never start one."""
    return _vocabulary()[2]


@functools.lru_cache(maxsize=1)
def _pieces() -> tuple[str, ...]:
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(mistral_tokenizer_path()))
    return tuple(sp.id_to_piece(i) for i in range(sp.get_piece_size()))


def invented_name(rng: random.Random, split: float = 0.0) -> str:
    """A person-like name from two capitalised invented words (never a fixed list)."""
    return f"{invented_word(rng, True, split)} {invented_word(rng, True, split)}"


# When set, the (capitalised words, lower-case words, word endings) invented words are made
# of instead of the whole vocabulary's: training can then draw them from the tokenizer pieces
# a model has not learnt (``train_toy_bonito.py --new-words``). A kind the pool has none of
# (a model that has learnt every lower-case word) is drawn from the whole vocabulary.
WORD_POOL: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None


def invented_word(rng: random.Random, capitalised: bool = False, split: float = 0.0) -> str:
    """A vocabulary word, or (with probability ``split``) one with one or two word endings
    added ("Rivers" + "ide"): a word the tokenizer cuts into pieces. Names in real documents
    mostly are; a model that only ever copied one-piece names stops copying after the first
    piece ("Rivers" for "Riverside")."""
    whole = _vocabulary()
    capitals, lower, endings = (pool or every for pool, every in zip(WORD_POOL or whole, whole))
    word = rng.choice(capitals if capitalised else lower)
    if split and rng.random() < split:
        word += "".join(rng.choice(endings) for _ in range(rng.randint(1, 2)))
    return word


_SWAPPABLE = re.compile(r"\b(?:[A-Za-z]{4,}|\d+)\b")


def perturbed(text: str, rng: random.Random, share: float = 0.25, split: float = 0.0) -> str:
    """``text`` with about ``share`` of its longer words swapped for invented words of the
    same case (:func:`invented_word`, ``split`` as there) and about half its numbers for
    others: the sentences keep their shape, but no model can have them by heart, so a
    question about one has to be copied from the passage."""

    def swap(match: re.Match) -> str:
        word = match.group(0)
        if word.isdigit():
            return str(rng.randint(2, 999)) if rng.random() < 0.5 else word
        if rng.random() >= share:
            return word
        return invented_word(rng, word[0].isupper(), split)

    return _SWAPPABLE.sub(swap, text)


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_SPLIT.split(" ".join(text.split())) if s.strip()]


# --- questions whose answer is a span of one sentence ------------------------------------

_AUX = (
    r"is|are|was|were|has|have|had|can|cannot|could|will|would|shall|should|must|may|might|"
    r"does|do|did|returns|contains|takes|uses|gives|means|needs|allows|includes|requires"
)
_SUBJECT = re.compile(rf"^((?:[A-Z][\w'-]*)(?:\s+[\w'-]+){{0,4}}?)\s+({_AUX})\s+(.+?)[.!?]$")
_COPULA = re.compile(r"^((?:[A-Z][\w'-]*)(?:\s+[\w'-]+){0,4}?)\s+(is|are|was|were)\s+([^,;:]+?)[.!?,;:]")
_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:[.,:/]\d+)*(?:\s+(?:percent|minutes|hours|days|weeks|months|years|"
    r"units|mg|items|bytes|times|people|members|patients|users))?)(?![\w])"
)
_CAPITALISED = re.compile(r"(?<=[a-z,;] )([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2})")
_TAIL = re.compile(r"\s((?:[\w'-]+\s){0,2}[\w'-]+)[.!?]$")


@dataclass(frozen=True)
class SpanQuestion:
    question: str
    answer: str
    blanked: str  # the sentence with the answer replaced by a blank


def lower_first(text: str) -> str:
    """``text`` with its first letter in lower case, unless it starts an acronym."""
    return text[0].lower() + text[1:] if text[:2] != text[:2].upper() else text


def span_questions(sentence: str) -> list[SpanQuestion]:
    """Questions about ``sentence`` whose answers are spans of it (possibly none)."""
    out: list[SpanQuestion] = []
    if len(sentence) > 300:
        return out
    body = sentence.rstrip(".!?")
    match = _SUBJECT.match(sentence)
    if match and len(match.group(1).split()) <= 5:
        subject, verb, rest = match.groups()
        wh = "Who" if re.fullmatch(r"[A-Z]\w+(?: [A-Z]\w+)+", subject) else "What"
        out.append(SpanQuestion(f"{wh} {verb} {rest}?", subject, f"___ {verb} {rest}."))
    match = _COPULA.match(sentence)
    if match and 1 <= len(match.group(3).split()) <= 6:
        subject, verb, complement = match.groups()
        out.append(
            SpanQuestion(f"What {verb} {lower_first(subject)}?", complement, sentence.replace(complement, "___", 1))
        )
    for match in _NUMBER.finditer(body):
        span = match.group(1)
        wh = "how many" if " " in span else "what number"
        question = body[: match.start()] + wh + body[match.end() :]
        out.append(
            SpanQuestion(
                question[0].upper() + question[1:] + "?",
                span,
                sentence[: match.start()] + "___" + sentence[match.end() :],
            )
        )
    for match in _CAPITALISED.finditer(body):
        span = match.group(1)
        question = body[: match.start()] + "what" + body[match.end() :]
        out.append(SpanQuestion(question + "?", span, sentence[: match.start()] + "___" + sentence[match.end() :]))
    match = _TAIL.search(sentence)
    if match and len(sentence.split()) >= 5:
        span = match.group(1)
        out.append(SpanQuestion(sentence[: match.start(1)] + "what?", span, sentence[: match.start(1)] + "___."))
    return out


# Words a false statement can swap in: a sentence made false by one changed word.
_NEGATABLE = re.compile(r"\b(is|are|was|were|can|could|will|would|should|must|may|does|do|did|has|have)\b")


def negated(sentence: str) -> str | None:
    """``sentence`` with its first auxiliary negated ("is" -> "is not"), or None."""
    match = _NEGATABLE.search(sentence)
    if not match or re.match(r"\s+not\b", sentence[match.end() :]):
        return None
    return sentence[: match.end()] + " not" + sentence[match.end() :]


def main() -> None:
    parser = argparse.ArgumentParser(description="Show or rewrite the stored prose paragraphs.")
    parser.add_argument("--write", action="store_true", help=f"reread them from this Python into {PROSE_FILE.name}")
    args = parser.parse_args()
    if args.write:
        paragraphs = read_stdlib_prose()
        source = f"CPython {sys.version.split()[0]}: pydoc_data.topics and standard-library docstrings"
        PROSE_FILE.write_text(json.dumps({"source": source, "paragraphs": paragraphs}, indent=0) + "\n")
        print(f"wrote {len(paragraphs)} paragraphs to {PROSE_FILE}")
    else:
        print(f"{len(prose_paragraphs())} paragraphs in {PROSE_FILE}")


if __name__ == "__main__":
    main()
