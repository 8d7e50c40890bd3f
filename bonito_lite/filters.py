"""Quality filters: which parsed examples are good enough to keep, and why the others are not.

Each parsed record (a :class:`~bonito_lite.record.Record`) is judged in order:

- ``empty``: the input or the output has no words;
- ``echo``: the output only repeats the input, the instruction or the passage, the input is
  the passage with no instruction, or either side repeats Bonito's prompt;
- ``repetition``: a loop in the output or the instruction (the same piece of text four
  times in a row, or a long text made of few distinct word triples);
- a check of the task type where it defines one (:data:`ANSWER_CHECKS`): an extractive
  answer occurs in the passage, a yes-no answer is yes or no, a multiple-choice answer is
  one of the options the input lists;
- ``duplicate``: the same input and output (after normalisation) as an example kept earlier;
- ``near_duplicate``: an example kept earlier asks nearly the same thing about nearly the
  same passage (MinHash over word pairs, Jaccard at least the threshold).

Nothing here needs the engine. The dedup index keeps 64-bit hashes and MinHash signatures,
never texts, so that it fits hundreds of thousands of examples in a laptop's memory.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .prompt import CONTEXT_TAG, PIPE, TASK_TAG, TASKTYPE_TAG
from .record import INPUT, OUTPUT, Record
from .settings import DEDUP_THRESHOLD
from .task_types import resolve_task_type

# Rejection reasons, as they appear in the rejects file, the summary and the manifest.
EMPTY = "empty"
ECHO = "echo"
REPETITION = "repetition"
ANSWER_NOT_IN_PASSAGE = "answer_not_in_passage"
NOT_YES_NO = "not_yes_no"
NO_OPTIONS = "no_options"
ANSWER_NOT_IN_OPTIONS = "answer_not_in_options"
DUPLICATE = "duplicate"
NEAR_DUPLICATE = "near_duplicate"

REASONS = (
    EMPTY,
    ECHO,
    REPETITION,
    ANSWER_NOT_IN_PASSAGE,
    NOT_YES_NO,
    NO_OPTIONS,
    ANSWER_NOT_IN_OPTIONS,
    DUPLICATE,
    NEAR_DUPLICATE,
)

# Jaccard similarity (of word-pair sets, estimated by MinHash) from which two examples
# count as near-duplicates; ``settings`` declares it and says why.
DEFAULT_DEDUP_THRESHOLD = DEDUP_THRESHOLD.default


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


# --- normalisation -----------------------------------------------------------------------

# Letters and digits: an underscore is a blank to fill, not a word.
_WORD = re.compile(r"[^\W_]+")


def _is_edge_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


# Typographic marks folded to the ASCII one they stand for: a document typed in a word
# processor has curly quotes and dashes, and a model may answer with straight ones.
_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    }
)
_NUMBER_START = re.compile(r"\.?\d")  # "5", ".5": what a sign in front of belongs to
# Invisible format characters (a soft hyphen, zero-width spaces and joiners) are not text.
_FORMAT_CHARACTERS = re.compile(r"[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")


# Cached: the examples of one passage come together, and each check normalises the passage.
@functools.lru_cache(maxsize=256)
def normalise(text: str) -> str:
    """NFKC, case-folded, curly quotes and dashes made straight, invisible format characters
    dropped, whitespace collapsed, punctuation stripped from both ends (but not the sign
    of a number: "-20" is not "20")."""
    text = _FORMAT_CHARACTERS.sub("", unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY))
    # "İ".casefold() is "i" with a combining dot, which no "i" in a model's answer has.
    text = " ".join(text.casefold().replace("i\u0307", "i").split())
    start, end = 0, len(text)
    while start < end and (_is_edge_punctuation(text[start]) or text[start].isspace()):
        if text[start] in "-+" and _NUMBER_START.match(text, start + 1):
            break
        start += 1
    while end > start and (_is_edge_punctuation(text[end - 1]) or text[end - 1].isspace()):
        end -= 1
    return text[start:end]


def words_of(text: str) -> list[str]:
    """The words of ``text``, NFKC-normalised and case-folded."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def instruction_of(record: Record) -> str:
    """The input without the passage: what the example asks (the whole input if it has no passage)."""
    return without_passage(str(record.input), record.context)


def without_passage(text: str, passage: str) -> str:
    """``text`` with the passage taken out (``text`` itself when the passage is empty)."""
    passage = passage.strip()
    return text.replace(passage, " ") if passage else text


def record_key(record: Record) -> str:
    """How a rejection names a kept example: its unit key, else where it came from."""
    if record.unit is not None:
        return record.unit
    return f"{record.source} passage {record.passage_index} sample {record.sample_index}"


# --- checks every example gets -----------------------------------------------------------


def check_empty(record: Record) -> Rejection | None:
    for side, text in ((INPUT, record.input), (OUTPUT, record.output)):
        if not _WORD.search(str(text)):
            return Rejection(EMPTY, f"the {side} has no words")
    return None


_PROMPT_TAGS = (TASKTYPE_TAG, CONTEXT_TAG, TASK_TAG, PIPE)


def check_echo(record: Record) -> Rejection | None:
    text_in, text_out = str(record.input), str(record.output)
    passage_text = record.context.strip()
    # The passage is the user's text: only what the model wrote around it is searched.
    written = (
        (text_in, text_out)
        if not passage_text
        else (text_in.replace(passage_text, " "), text_out.replace(passage_text, " "))
    )
    for side, text in zip((INPUT, OUTPUT), written):
        tag = next((t for t in _PROMPT_TAGS if t in text), None)
        if tag is not None:
            return Rejection(ECHO, f"the {side} repeats Bonito's prompt tag {tag}")
    output = normalise(text_out)
    passage = normalise(record.context)
    instruction = normalise(instruction_of(record))
    if output == normalise(text_in):
        return Rejection(ECHO, "the output repeats the input")
    if instruction and output == instruction:
        return Rejection(ECHO, "the output repeats the instruction")
    if record.task_type and output == normalise(record.task_type):
        return Rejection(ECHO, "the output is the task type of the prompt")
    # A short answer is often a span of the passage; most of the passage is not an answer,
    # except to text generation, whose output upstream writes as the passage itself
    # ("{{context}}": write a text about X, and the text is the passage).
    if passage and output in passage and len(output) >= 0.8 * len(passage) and not _is_text_generation(record):
        return Rejection(ECHO, "the output copies the passage")
    if passage and passage in normalise(text_in) and not _WORD.search(instruction):
        return Rejection(ECHO, "the input is the passage with no instruction")
    return None


# A piece of text (1 to 40 characters) four or more times in a row.
_LOOP = re.compile(r"(.{1,40}?)\1{3,}", re.DOTALL)
_LOOP_MIN_CHARS = 24
# A long text made mostly of the same word triples is a loop with variations.
_TRIPLES_MIN_WORDS = 30
_TRIPLES_MIN_DISTINCT = 0.5


def _is_text_generation(record: Record) -> bool:
    return bool(record.task_type) and resolve_task_type(record.task_type).short == "text_gen"


def repetition_in(text: str, passage: str = "") -> str | None:
    """What repeats in ``text`` when it is a degenerate loop, else None; a loop that is in
    ``passage`` (a table's rows, a sequence quoted from it) is the user's text, not one."""
    if passage and normalise(text) and normalise(text) in normalise(passage):
        return None
    for match in _LOOP.finditer(text):
        unit = match.group(1)
        if passage and " ".join(match.group(0).split()) in " ".join(passage.split()):
            continue
        if len(match.group(0)) >= _LOOP_MIN_CHARS and any(c.isalnum() for c in unit):
            times = len(match.group(0)) // len(unit)
            return f"{unit.strip()[:40]!r} {times} times in a row"
    words = words_of(text)
    if len(words) >= _TRIPLES_MIN_WORDS:
        triples = list(zip(words, words[1:], words[2:]))
        distinct = len(set(triples)) / len(triples)
        if distinct < _TRIPLES_MIN_DISTINCT:
            return f"only {distinct:.0%} of its word triples are distinct"
    return None


def check_repetition(record: Record) -> Rejection | None:
    # The passage is the user's own text; only what the model wrote is judged.
    for side, text in ((OUTPUT, str(record.output)), ("instruction", instruction_of(record))):
        loop = repetition_in(text, record.context)
        if loop:
            return Rejection(REPETITION, f"the {side} loops: {loop}")
    return None


# --- checks of a task type ---------------------------------------------------------------


def check_answer_in_passage(record: Record) -> Rejection | None:
    # Whole words only: the answer "cat" does not occur in "category".
    answer = normalise(str(record.output))
    if answer and re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", normalise(record.context)):
        return None
    return Rejection(ANSWER_NOT_IN_PASSAGE, f"the answer {_short(record.output)} does not occur in the passage")


# True/False too: the yes-no templates Bonito learnt from also ask "true or false".
_YES_NO = {"yes", "no", "true", "false"}


def check_yes_no(record: Record) -> Rejection | None:
    if normalise(str(record.output)) in _YES_NO:
        return None
    return Rejection(NOT_YES_NO, f"the answer {_short(record.output)} is not yes or no")


# How Bonito lists options, learnt from the multiple-choice templates it was trained on:
# one per line after a dash or bullet ("Options:\n- a\n- b"), one per line after a letter
# or number ("A. a", "(B) b", "C) c", "1: d"), inline after a label ("Options: a, b or c";
# "OPTIONS: - a - b"; "one of these topics: a; b"), or inline with letters ("(A) a (B) b").
# (A dash or a bullet may touch its text, "-Dr. Lee", but not another dash or a digit: "--",
# "-5"; an asterisk must not, "*Question*:" is emphasis.)
_BULLET_LINE = re.compile(r"^[ \t]*(?:[-*•+][ \t]+|[-•](?=[^\s\d*•+-]))(\S.*?)[ \t]*$", re.MULTILINE)
_LABELLED_LINE = re.compile(r"^[ \t]*\(?([A-Ha-h]|[1-9])[ \t]*[.):]\.?[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)
_INLINE_LABELLED = re.compile(r"\(([A-Ha-h])\)[ \t]*([^\n]+?)[ \t]*(?=\([A-Ha-h]\)|$)", re.MULTILINE)
_OPTIONS_HEADER = re.compile(
    r"\b(?:options?|choices?|answer choices|possible answers|choose from|pick from|"
    r"select from|choose between|pick one|candidates|categories|labels|topics|"
    r"one of (?:these|the following))\b[^\n:]*:[ \t]*(\S[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_INLINE_SPLIT = re.compile(r"\s*(?:[,;|]|\s-\s)\s*")
# Only when no comma or semicolon separates them: "Options: yes or no".
_INLINE_SPLIT_WORDS = re.compile(r"\s+(?:or|and)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Option:
    text: str
    label: str | None = None  # "a", "b"... or "1", "2"..., normalised


def listed_options(text: str) -> list[Option]:
    """The answer options ``text`` lists, in any of the layouts Bonito writes."""
    labelled = [Option(m.group(2), m.group(1).casefold()) for m in _LABELLED_LINE.finditer(text)]
    if len(labelled) < 2:
        labelled = [Option(m.group(2), m.group(1).casefold()) for m in _INLINE_LABELLED.finditer(text)]
    options = labelled if len(labelled) >= 2 else []
    bullets = [Option(m.group(1)) for m in _BULLET_LINE.finditer(text)]
    if len(bullets) >= 2:
        options += bullets
    for match in _OPTIONS_HEADER.finditer(text):
        listing = match.group(1).strip(" -")
        parts = [p for p in _INLINE_SPLIT.split(listing) if normalise(p)]
        if len(parts) < 2:
            parts = [p for p in _INLINE_SPLIT_WORDS.split(listing) if normalise(p)]
        if len(parts) >= 2:
            options += [Option(p) for p in parts]
    return options


_ANSWER_LABEL = re.compile(r"^\(?([A-Ha-h]|[1-9])\s*[.):]?\.?\s*(.*)$", re.DOTALL)


def answer_matches(answer: str, options: Iterable[Option]) -> bool:
    """Whether ``answer`` is one of ``options``: its text, its label, or both ("B. text")."""
    options = list(options)
    said = normalise(answer)
    texts = {normalise(o.text) for o in options}
    if said in texts:
        return True
    label = _ANSWER_LABEL.match(said)
    labels = {o.label: normalise(o.text) for o in options if o.label}
    if label and label.group(1) in labels:
        rest = normalise(label.group(2))
        return not rest or rest == labels[label.group(1)]
    return False


def check_answer_in_options(record: Record) -> Rejection | None:
    options = listed_options(instruction_of(record))
    if not options:
        return Rejection(NO_OPTIONS, "the input lists no answer options")
    if answer_matches(str(record.output), options):
        return None
    shown = ", ".join(_short(o.text, 30) for o in options[:6])
    return Rejection(ANSWER_NOT_IN_OPTIONS, f"the answer {_short(record.output)} is not one of the options ({shown})")


Check = Callable[[Record], "Rejection | None"]

# The check each task type defines, by its short form: the one place that says which.
ANSWER_CHECKS: dict[str, Check] = {
    "exqa": check_answer_in_passage,
    "ynqa": check_yes_no,
    "mcqa": check_answer_in_options,
}

GENERAL_CHECKS: tuple[Check, ...] = (check_empty, check_echo, check_repetition)


def _short(text: object, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def quality_problem(record: Record) -> Rejection | None:
    """The first check ``record`` fails, without deduplication; None when it passes them all."""
    for check in GENERAL_CHECKS:
        rejection = check(record)
        if rejection:
            return rejection
    if record.task_type:
        check = ANSWER_CHECKS.get(resolve_task_type(record.task_type).short)
        if check is not None:
            return check(record)
    return None


# --- deduplication -----------------------------------------------------------------------

# MinHash and LSH banding are written here rather than taken from datasketch. Given these
# bands, datasketch keeps the acceptance rule below (its LSH only proposes candidates; the
# checks of the whole signature, the output and the passage stay ours), but on the same
# examples it took several times the CPU time and memory of this code, and it brings scipy.
# BENCHMARKS.md has the comparison (scripts/bench_dedup_datasketch.py).
_NUM_PERM = 128
# Multiply-shift hashing: fixed odd multipliers, so signatures are the same in every run.
_RNG = np.random.default_rng(0x5EED_B017)
_MULTIPLIERS = _RNG.integers(1, 2**63, size=_NUM_PERM, dtype=np.uint64) | np.uint64(1)
_INCREMENTS = _RNG.integers(0, 2**63, size=_NUM_PERM, dtype=np.uint64)
# Outputs are compared on fewer values: they only confirm a candidate the full signature found.
_OUTPUT_PERM = 32
_EMPTY_SIGNATURE = np.full(_NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def shingles(text: str) -> set[str]:
    """Word pairs of ``text`` (its single word when it has one): short questions need small shingles."""
    words = words_of(text)
    if len(words) < 2:
        return set(words)
    return {f"{a} {b}" for a, b in zip(words, words[1:])}


def minhash(items: set[str]) -> np.ndarray:
    """A 128-value MinHash signature of a set of strings."""
    if not items:
        return _EMPTY_SIGNATURE
    values = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in items), dtype=np.uint64, count=len(items))
    with np.errstate(over="ignore"):
        mixed = _MULTIPLIERS[:, None] * values[None, :] + _INCREMENTS[:, None]
    return (mixed >> np.uint64(32)).astype(np.uint32).min(axis=1)


def lsh_bands(threshold: float) -> tuple[int, int]:
    """(bands, rows) over the 128 values: the fewest bands that find 95% of pairs at ``threshold``.

    Two signatures become candidates when all ``rows`` values of one band agree, with
    probability ``1 - (1 - s**rows)**bands`` at Jaccard ``s``; every candidate is then
    checked against the threshold with its full signature, so extra candidates cost time,
    never a wrong rejection.
    """
    for rows in range(_NUM_PERM, 0, -1):
        bands = _NUM_PERM // rows
        if 1 - (1 - threshold**rows) ** bands >= 0.95:
            return bands, rows
    return _NUM_PERM, 1


class Deduplicator:
    """Exact and near-duplicate detection over every example kept so far.

    Exact: a 64-bit hash of the normalised input and output. Near: MinHash with LSH
    banding over the word pairs of what the example asks and answers, with the passage
    left out (it would make every question about one passage look alike). Two examples
    are near-duplicates when those signatures agree on at least ``threshold`` of their
    values, their outputs alone do too (the same question with another answer is not a
    duplicate) and their passages are near-duplicates (or neither input quotes one).
    """

    def __init__(self, threshold: float = DEFAULT_DEDUP_THRESHOLD) -> None:
        DEDUP_THRESHOLD.check(threshold)
        self.threshold = threshold
        self.bands, self.rows = lsh_bands(threshold)
        self._exact: dict[int, int] = {}  # hash of input and output -> example number
        self._buckets: dict[int, int | list[int]] = {}  # hash of one band -> example numbers
        self._signatures = np.empty((1024, _NUM_PERM), dtype=np.uint32)
        self._output_signatures = np.empty((1024, _OUTPUT_PERM), dtype=np.uint32)
        self._passage_of: list[int] = []  # example number -> passage number, -1 for none
        self._keys: list[str] = []  # example number -> its record key
        self._passages: dict[int, int] = {}  # hash of a passage -> passage number
        self._passage_signatures: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, record: Record) -> Rejection | None:
        """The duplicate ``record`` is of a kept example, or None (and it is remembered as kept)."""
        exact = self._exact_hash(record)
        if exact in self._exact:
            return Rejection(DUPLICATE, f"same input and output as kept example {self._keys[self._exact[exact]]}")
        signature, output, passage, bands = self._near_keys(record)
        for number in self._candidates(bands):
            similarity = float(np.mean(self._signatures[number] == signature))
            if (
                similarity >= self.threshold
                and np.mean(self._output_signatures[number] == output) >= self.threshold
                and self._same_passage(passage, self._passage_of[number])
            ):
                return Rejection(
                    NEAR_DUPLICATE,
                    f"about {similarity:.0%} like kept example {self._keys[number]} (threshold {self.threshold:g})",
                )
        self._add(record, exact, signature, output, passage, bands)
        return None

    def remember(self, record: Record) -> None:
        """Add an example kept earlier (a resumed run's output) without checking it."""
        signature, output, passage, bands = self._near_keys(record)
        self._add(record, self._exact_hash(record), signature, output, passage, bands)

    def _exact_hash(self, record: Record) -> int:
        return _hash64(normalise(str(record.input)) + "\x00" + normalise(str(record.output)))

    def _near_keys(self, record: Record) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
        passage_text = record.context.strip()
        quotes_passage = bool(passage_text) and passage_text in str(record.input)
        asked = instruction_of(record) if quotes_passage else str(record.input)
        signature = minhash(shingles(asked + "\n" + str(record.output)))
        output = minhash(shingles(str(record.output)))[:_OUTPUT_PERM]
        passage = self._passage_number(passage_text) if quotes_passage else -1
        rows = self.rows
        bands = [
            hash(bytes([band]) + signature[band * rows : (band + 1) * rows].tobytes()) for band in range(self.bands)
        ]
        return signature, output, passage, bands

    def _passage_number(self, text: str) -> int:
        key = _hash64(normalise(text))
        number = self._passages.get(key)
        if number is None:
            number = self._passages[key] = len(self._passage_signatures)
            self._passage_signatures.append(minhash(shingles(text)))
        return number

    def _same_passage(self, a: int, b: int) -> bool:
        if a == b:
            return True
        if a < 0 or b < 0:
            return False
        similarity = np.mean(self._passage_signatures[a] == self._passage_signatures[b])
        return bool(similarity >= self.threshold)

    def _candidates(self, bands: list[int]) -> list[int]:
        found: dict[int, None] = {}
        for band in bands:
            numbers = self._buckets.get(band)
            if numbers is None:
                continue
            for number in numbers if isinstance(numbers, list) else (numbers,):
                found[number] = None
        return list(found)

    def _add(
        self,
        record: Record,
        exact: int,
        signature: np.ndarray,
        output: np.ndarray,
        passage: int,
        bands: list[int],
    ) -> None:
        number = len(self._keys)
        self._exact.setdefault(exact, number)
        if number == len(self._signatures):
            self._signatures = _grown(self._signatures)
            self._output_signatures = _grown(self._output_signatures)
        self._signatures[number] = signature
        self._output_signatures[number] = output
        self._passage_of.append(passage)
        self._keys.append(record_key(record))
        for band in bands:
            held = self._buckets.get(band)
            if held is None:
                self._buckets[band] = number
            elif isinstance(held, list):
                held.append(number)
            else:
                self._buckets[band] = [held, number]


def _grown(rows: np.ndarray) -> np.ndarray:
    grown = np.empty((2 * len(rows), rows.shape[1]), dtype=rows.dtype)
    grown[: len(rows)] = rows
    return grown


class QualityFilter:
    """Every check in order, then deduplication against the examples kept so far."""

    def __init__(self, dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD) -> None:
        self.dedup = Deduplicator(dedup_threshold)

    def __call__(self, record: Record) -> Rejection | None:
        """Why ``record`` is rejected, or None when it is kept (and then remembered)."""
        return quality_problem(record) or self.dedup.check(record)

    def remember(self, record: Record) -> None:
        """Count an example already in the output as kept, so no duplicate of it gets in."""
        self.dedup.remember(record)
