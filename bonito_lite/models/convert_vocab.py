"""The vocabulary stage: a checkpoint's tokenizer as llama.cpp's GGUF keys.

The result must equal what llama.cpp's own ``convert_hf_to_gguf.py`` writes, because
llama.cpp's tokenizer is driven by these keys. Two kinds of tokenizer are read:

- SentencePiece ``tokenizer.model`` (Mistral, Llama 2; ``tokenizer.ggml.model`` "llama"):
  pieces, scores and token types from the model, padded to the config's vocabulary size,
  then overridden by ``added_tokens.json`` and the ``added_tokens_decoder`` of
  ``tokenizer_config.json`` (special ones become control tokens with score -1000).
- Llama 3's byte-level BPE in ``tokenizer.json`` (``tokenizer.ggml.model`` "gpt2", no
  scores): the vocabulary and merges as stored, added tokens as control or user-defined
  tokens, and the pre-tokenizer named "llama-bpe", llama.cpp's built-in version of Llama 3's.

Then, for both, the special ids and add-BOS/EOS flags that ``gguf.SpecialVocab`` reads from
the folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import gguf

from ..errors import CheckpointError, cannot_read

logger = logging.getLogger(__name__)

TokenType = gguf.TokenType

# Score llama.cpp's converter gives added and padding tokens.
_ADDED_TOKEN_SCORE = -1000.0
_MISSING_TOKEN_SCORE = -10000.0
# SentencePiece's word-boundary marker, shown as a space in user-defined tokens.
_SPIECE_SPACE = "\u2581"


# Llama 3's pre-tokenizer split, as tokenizer.json (and Meta's tiktoken setup) states it.
# llama.cpp implements this split under the name "llama-bpe".
LLAMA3_SPLIT_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA3_PRE_TOKENIZER = "llama-bpe"


@dataclass
class Vocabulary:
    tokens: list[bytes]
    scores: list[float] | None  # None for BPE, which has merges instead
    token_types: list[int]
    special: gguf.SpecialVocab
    add_space_prefix: bool | None
    model: str = "llama"  # tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    pre: str = "default"  # tokenizer.ggml.pre: llama.cpp's name for the pre-tokenizer

    def add_to_gguf(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model(self.model)
        writer.add_tokenizer_pre(self.pre)
        writer.add_token_list(self.tokens)
        if self.scores is not None:
            writer.add_token_scores(self.scores)
        writer.add_token_types(self.token_types)
        if self.add_space_prefix is not None:
            writer.add_add_space_prefix(self.add_space_prefix)
        self.special.add_to_gguf(writer, quiet=True)


def _looks_special(token: str) -> bool:
    # Added tokens some models forget to flag as special; the same list llama.cpp's converter uses.
    return (
        token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<\uff5c") and token.endswith("\uff5c>"))
        or (token.startswith("<unused") and token.endswith(">"))
    )


def has_tokenizer(folder: Path) -> bool:
    """Whether the folder has a tokenizer file conversion can read."""
    return (folder / "tokenizer.model").is_file() or (folder / "tokenizer.json").is_file()


MISSING_TOKENIZER = "has neither tokenizer.model (SentencePiece: Mistral) nor tokenizer.json (BPE: Llama 3)"


def read_vocabulary(folder: Path, vocab_size: int) -> Vocabulary:
    """Read a checkpoint folder's tokenizer: ``tokenizer.model`` when there is one (as
    llama.cpp's converter, which tries SentencePiece first), else ``tokenizer.json``."""
    if (folder / "tokenizer.model").is_file():
        return _read_sentencepiece(folder, vocab_size)
    if (folder / "tokenizer.json").is_file():
        return _read_llama3_bpe(folder, vocab_size)
    raise CheckpointError(f"{folder} {MISSING_TOKENIZER}")


def _read_sentencepiece(folder: Path, vocab_size: int) -> Vocabulary:
    from sentencepiece import SentencePieceProcessor

    model_path = folder / "tokenizer.model"
    processor = SentencePieceProcessor()
    _check_readable(model_path)
    try:
        processor.LoadFromFile(str(model_path))
    except (OSError, RuntimeError) as error:
        raise CheckpointError(f"{model_path} is not a SentencePiece model: {error}") from None

    tokens = [f"[PAD{i}]".encode() for i in range(vocab_size)]
    scores = [_MISSING_TOKEN_SCORE] * vocab_size
    token_types = [int(TokenType.UNUSED)] * vocab_size
    if processor.vocab_size() > vocab_size:
        logger.warning(
            "tokenizer.model has %d pieces but config.json says vocab_size %d; extra pieces dropped",
            processor.vocab_size(),
            vocab_size,
        )
    for token_id in range(min(processor.vocab_size(), vocab_size)):
        if processor.IsUnknown(token_id):
            token_type = TokenType.UNKNOWN
        elif processor.IsControl(token_id):
            token_type = TokenType.CONTROL
        elif processor.IsUnused(token_id):
            token_type = TokenType.UNUSED
        elif processor.IsByte(token_id):
            token_type = TokenType.BYTE
        else:
            token_type = TokenType.NORMAL
        tokens[token_id] = processor.IdToPiece(token_id).encode("utf-8")
        scores[token_id] = processor.GetScore(token_id)
        token_types[token_id] = int(token_type)

    added_tokens_file = folder / "added_tokens.json"
    if added_tokens_file.is_file():
        for text, token_id in _read_json(added_tokens_file).items():
            if token_id >= vocab_size:
                logger.warning("added token %r has id %d beyond the vocabulary; ignored", text, token_id)
                continue
            tokens[token_id] = text.encode("utf-8")
            scores[token_id] = _ADDED_TOKEN_SCORE
            token_types[token_id] = int(TokenType.USER_DEFINED)

    add_space_prefix = None
    tokenizer_config_file = folder / "tokenizer_config.json"
    if tokenizer_config_file.is_file():
        tokenizer_config = _read_json(tokenizer_config_file)
        add_space_prefix = tokenizer_config.get("add_prefix_space")
        for key, data in (tokenizer_config.get("added_tokens_decoder") or {}).items():
            token_id = int(key)
            text: str = data["content"]
            if token_id >= vocab_size:
                logger.warning("added token %r has id %d beyond the vocabulary; ignored", text, token_id)
                continue
            if data.get("special") or _looks_special(text):
                token_types[token_id] = int(TokenType.CONTROL)
            else:
                text = text.replace(_SPIECE_SPACE, " ")
                token_types[token_id] = int(TokenType.USER_DEFINED)
            scores[token_id] = _ADDED_TOKEN_SCORE
            tokens[token_id] = text.encode("utf-8")

    special = gguf.SpecialVocab(folder, n_vocab=len(tokens))
    return Vocabulary(tokens, scores, token_types, special, add_space_prefix)


def _read_llama3_bpe(folder: Path, vocab_size: int) -> Vocabulary:
    path = folder / "tokenizer.json"
    tokenizer = _read_json(path)
    model = tokenizer.get("model") or {}
    if model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
        raise CheckpointError(
            f"{path} holds a {model.get('type') or 'unknown'} tokenizer; supported: Llama 3's byte-level BPE"
            " (tokenizer.json) and SentencePiece (tokenizer.model)"
        )
    _check_llama3_pre_tokenizer(path, tokenizer)

    tokens = [f"[PAD{i}]".encode() for i in range(vocab_size)]
    token_types = [int(TokenType.UNUSED)] * vocab_size

    def place(text: str, token_id: int, token_type: TokenType) -> None:
        if not 0 <= token_id < vocab_size:
            raise CheckpointError(
                f"{path} has token {text!r} with id {token_id}, beyond config.json's vocab_size {vocab_size};"
                " the checkpoint is inconsistent"
            )
        tokens[token_id] = text.encode("utf-8")
        token_types[token_id] = int(token_type)

    # Byte-level BPE stores each token as the printable characters its bytes map to ("Ġ" for a
    # space); llama.cpp's "gpt2" tokenizer expects exactly those strings.
    for text, token_id in model["vocab"].items():
        place(text, int(token_id), TokenType.NORMAL)
    for added in tokenizer.get("added_tokens") or []:
        text = added["content"]
        if added.get("special") or _looks_special(text):
            place(text, int(added["id"]), TokenType.CONTROL)
        else:
            # llama.cpp's converter re-encodes non-normalized added tokens through transformers;
            # for byte-level BPE that gives the text back, apart from SentencePiece's space mark.
            place(text.replace(_SPIECE_SPACE, " "), int(added["id"]), TokenType.USER_DEFINED)

    # Merges, special ids and add-BOS/EOS flags as llama.cpp's converter reads them. The BOS
    # id and whether it is added come from tokenizer_config.json's bos_token and tokenizer.json's
    # post-processor: that is the tokenizer upstream Bonito prompts with (vLLM through
    # transformers), so it decides the prompt's first token. EOS: tokenizer_config.json's
    # eos_token, else config.json's eos_token_id. See check_end_tokens for generation_config.json.
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)
    if not special.merges:
        raise CheckpointError(f"{path} has no merges; a BPE tokenizer cannot work without them")
    post = tokenizer.get("post_processor") or {}
    if any(step.get("type") == "ByteLevel" for step in post.get("processors", [post])):
        # A byte-level post-processor adds no token of its own: llama.cpp's converter (its
        # current gguf-py) then writes add-BOS/EOS false unless a template or the config says
        # otherwise; the PyPI gguf package does not yet, so it is done here.
        special.add_special_token.setdefault("bos", False)
        special.add_special_token.setdefault("eos", False)
    check_end_tokens(folder, special, tokens, token_types)
    return Vocabulary(tokens, None, token_types, special, add_space_prefix=None, model="gpt2", pre=LLAMA3_PRE_TOKENIZER)


def _check_llama3_pre_tokenizer(path: Path, tokenizer: dict) -> None:
    """Refuse a BPE tokenizer whose pre-tokenizer is not Llama 3's.

    llama.cpp's converter tells pre-tokenizers apart by hashing the tokens of a test string
    (through transformers) against known models; the hash stands for the definition read
    here: no normalizer, the Llama 3 split pattern, then the byte-level mapping without its own
    split or a prefix space, and merges applied only to words not in the vocabulary
    (``ignore_merges``). Another pre-tokenizer under the "llama-bpe" name would tokenize
    differently without any error, so it is refused instead.
    """
    pre = tokenizer.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    split = steps[0] if steps else {}
    byte_level = steps[1] if len(steps) > 1 else {}
    is_llama3 = (
        not tokenizer.get("normalizer")
        and len(steps) == 2
        and split.get("type") == "Split"
        and (split.get("pattern") or {}).get("Regex") == LLAMA3_SPLIT_PATTERN
        and split.get("behavior") == "Isolated"
        and not split.get("invert")
        and byte_level.get("type") == "ByteLevel"
        and not byte_level.get("add_prefix_space")
        and byte_level.get("use_regex") is False
        and (tokenizer.get("model") or {}).get("ignore_merges") is True
    )
    if not is_llama3:
        raise CheckpointError(
            f"{path} is a BPE tokenizer, but not Llama 3's (its pre-tokenizer or merge rule differs);"
            " only Llama 3's BPE tokenizer is supported"
        )


# Token texts llama.cpp's vocabulary loader marks as end of generation, besides the EOS id.
_LLAMA_CPP_END_TEXTS = frozenset({"<|end_of_text|>", "<|eot_id|>", "<|eom_id|>"})


def check_end_tokens(folder: Path, special: gguf.SpecialVocab, tokens: list[bytes], token_types: list[int]) -> None:
    """Warn when a token generation_config.json or config.json stops at would not stop llama.cpp.

    Not written to the file: llama.cpp's converter ignores generation_config.json, and the
    files must stay key-for-key equal. It is read as a check, because vLLM (upstream's engine)
    stops at every ``eos_token_id`` listed there; llama.cpp stops at the EOS id written and at
    every control token of an end text (Llama 3's end of text, end of turn, end of message).
    """
    eos = special.special_token_ids.get("eos")
    for name in ("generation_config.json", "config.json"):
        config_path = folder / name
        if not config_path.is_file():
            continue
        listed = _read_json(config_path).get("eos_token_id")
        for token_id in listed if isinstance(listed, list) else [listed]:
            if not isinstance(token_id, int) or token_id == eos:
                continue
            stops = (
                0 <= token_id < len(tokens)
                and token_types[token_id] == TokenType.CONTROL
                and tokens[token_id].decode("utf-8", "replace") in _LLAMA_CPP_END_TEXTS
            )
            if not stops:
                logger.warning(
                    "%s names end token %d, which llama.cpp will not stop at (the EOS written is %s)",
                    name,
                    token_id,
                    eos,
                )


def _read_json(path: Path) -> dict:
    _check_readable(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None


def _check_readable(path: Path) -> None:
    """A file that exists but cannot be opened is named as such, not as a bad file."""
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        return  # the caller's own message says what is missing
    except OSError as error:
        raise CheckpointError(cannot_read(path, error)) from None
