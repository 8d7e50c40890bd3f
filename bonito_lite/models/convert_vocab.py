"""The vocabulary stage: a SentencePiece ``tokenizer.model`` as llama.cpp's GGUF keys.

The result must equal what llama.cpp's own ``convert_hf_to_gguf.py`` writes for a
Mistral/Llama SentencePiece checkpoint, because llama.cpp's tokenizer is driven by these
keys: pieces, scores and token types from the SentencePiece model, padded to the config's
vocabulary size, then overridden by ``added_tokens.json`` and the ``added_tokens_decoder``
of ``tokenizer_config.json`` (special ones become control tokens with score -1000), then
the special ids and add-BOS/EOS flags that ``gguf.SpecialVocab`` reads from the folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import gguf

from ..errors import CheckpointError

logger = logging.getLogger(__name__)

TokenType = gguf.TokenType

# Score llama.cpp's converter gives added and padding tokens.
_ADDED_TOKEN_SCORE = -1000.0
_MISSING_TOKEN_SCORE = -10000.0
# SentencePiece's word-boundary marker, shown as a space in user-defined tokens.
_SPIECE_SPACE = "\u2581"


@dataclass
class Vocabulary:
    tokens: list[bytes]
    scores: list[float]
    token_types: list[int]
    special: gguf.SpecialVocab
    add_space_prefix: bool | None

    def add_to_gguf(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(self.tokens)
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


def read_vocabulary(folder: Path, vocab_size: int) -> Vocabulary:
    """Read ``tokenizer.model`` and the tokenizer JSON files of a checkpoint folder."""
    from sentencepiece import SentencePieceProcessor

    model_path = folder / "tokenizer.model"
    if not model_path.is_file():
        raise CheckpointError(
            f"{folder} has no tokenizer.model; only SentencePiece tokenizers (Mistral, Llama 2) are supported"
        )
    processor = SentencePieceProcessor()
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


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
