"""Drawing the next token: vLLM's sampling procedure on one sequence's logits, in numpy.

It wraps no C object: the engine hands it the logits, and the only llama.cpp part a chain
may hold, the grammar, comes in as an object with ``Grammar``'s four methods
(``llama_handles.Grammar`` is the one the engine makes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..errors import EngineError


class Grammar(Protocol):
    """A grammar a chain's draws are held to."""

    def allows(self, token: int) -> bool: ...

    def restrict(self, logits: np.ndarray) -> np.ndarray: ...

    def accept(self, token: int) -> None: ...

    def close(self) -> None: ...


# Seeds are taken modulo this: 32 bits, as the pipeline derives them.
_SEED_MODULUS = 0xFFFFFFFF

# vLLM samples greedily below this temperature (its _SAMPLING_EPS); a parameter within it of
# "off" is off (min-p, top-p, the repetition penalty).
GREEDY_BELOW_TEMPERATURE = 1e-5
_SAMPLING_EPS = GREEDY_BELOW_TEMPERATURE
# vLLM raises a temperature above 0 and below this to it (its _MAX_TEMP): logits divided by a
# smaller one overflow, so only 0 itself is greedy.
LOWEST_TEMPERATURE = 1e-2
# vLLM clamps each logit bias to this size (its logits processor for logit_bias).
LOGIT_BIAS_LIMIT = 100.0

# Top-p finds its cut with a histogram of the tempered logits (below the largest, in bins
# this fine) instead of sorting the vocabulary: only the tokens of the bin where the
# cumulative probability crosses top-p are sorted. Logits more than _TOP_P_SPAN below the
# largest share the last bin.
_TOP_P_BINS_PER_LOGIT = 64
_TOP_P_SPAN = 32
_TOP_P_BINS = _TOP_P_BINS_PER_LOGIT * _TOP_P_SPAN

# Up to this k, top-k takes its candidates with a partition and sorts them; above it the
# histogram nucleus over the whole vocabulary is cheaper.
_SORTED_TOP_K = 4096


class SamplerChain:
    """One sequence's sampler, in vLLM's order, optionally held to a grammar.

    For each token: logit bias and allowed tokens; end and stop tokens masked until
    ``min_tokens`` tokens were generated; the repetition penalty (over prompt and output
    tokens: positive logits divided by it, negative ones multiplied), then the frequency and
    presence penalties (output tokens only); then the logits divided by the temperature, and
    on that tempered distribution top-k, top-p and min-p; then the draw. As vLLM does, a
    temperature above 0 and below 0.01 is taken as 0.01, a temperature of 0 draws the argmax
    of the penalised logits (greedy), logit biases are clamped to +-100, and min-p, top-p and
    the repetition penalty within 1e-5 of "off" are off. These are the definitions of vLLM's
    sampler, which upstream Bonito runs on.

    The draw uses one uniform number from the sequence's own generator (numpy's PCG64,
    seeded with ``seed``), so a draw depends on the logits, the tokens so far and the seed
    only. Everything is computed with numpy rather than llama.cpp's sampler chain: llama.cpp
    sorts the vocabulary for top-p whenever the nucleus holds more than 256 tokens, 1.7 ms
    per token for 32,000 tokens, a sixth of a sequence's share of a batched decode step of a
    1.1 B model; a histogram finds the same nucleus several times faster (BENCHMARKS.md).
    The nucleus is the shortest run of most probable tokens (ties: lower id first) whose
    probability reaches ``top_p``; top-k keeps every token tied with the k-th largest logit.

    The grammar (llama.cpp's grammar sampler, see ``Grammar``) is checked on the drawn token only, and
    applied to the whole vocabulary only when it rejects that token: checking 32,000
    candidates against a grammar costs more than a decode step of a small model, while
    most draws already fit it. A draw that fits is kept, else the token is drawn again,
    through the same chain, from the tokens the grammar allows. Without top-k, top-p and
    min-p cutting anything, the draws follow the grammar-restricted distribution exactly;
    with them, a first draw's cut is taken before the grammar.
    """

    def __init__(
        self,
        n_vocab: int,
        *,
        temperature: float,
        top_p: float,
        seed: int,
        grammar: Grammar | None = None,
        top_k: int = 0,
        min_p: float = 0.0,
        repetition_penalty: float = 1.0,
        presence_penalty: float = 0.0,
        frequency_penalty: float = 0.0,
        logit_bias: dict[int, float] | None = None,
        allowed_token_ids: Sequence[int] | None = None,
        bad_words: Sequence[Sequence[int]] = (),
        min_tokens: int = 0,
        end_token_ids: Sequence[int] = (),
        prompt_tokens: Sequence[int] = (),
    ) -> None:
        self._n_vocab = n_vocab
        temperature = float(temperature)
        if 0 < temperature < LOWEST_TEMPERATURE:
            temperature = LOWEST_TEMPERATURE
        self._greedy = temperature < GREEDY_BELOW_TEMPERATURE
        self._inverse_temperature = 0.0 if self._greedy else 1.0 / temperature
        self._top_p = float(top_p) if top_p < 1.0 - _SAMPLING_EPS else 1.0
        self._top_k = int(top_k) if 0 < int(top_k) < n_vocab else 0
        # min-p keeps p >= min_p * p_max, i.e. a tempered logit at most -ln(min_p) below the largest.
        self._min_p_span = -float(np.log(min_p)) if min_p > _SAMPLING_EPS else None
        if abs(repetition_penalty - 1.0) < _SAMPLING_EPS:
            repetition_penalty = 1.0
        self._rng = np.random.Generator(np.random.PCG64(sampler_seed(seed)))
        # Logit processing before the chain; the logits are copied only when there is some.
        self._bias_ids = self._bias_values = None
        if logit_bias:
            self._bias_ids = np.fromiter(logit_bias.keys(), dtype=np.int64)
            values = np.fromiter(logit_bias.values(), dtype=np.float64)
            self._bias_values = np.clip(values, -LOGIT_BIAS_LIMIT, LOGIT_BIAS_LIMIT).astype(np.float32)
        self._disallowed = None
        if allowed_token_ids is not None:
            self._disallowed = np.ones(n_vocab, dtype=bool)
            self._disallowed[np.asarray(list(allowed_token_ids), dtype=np.int64)] = False
        # Banned words as token sequences: a one-token word is never drawn; a longer one's
        # last token is not drawn right after the rest of it (vLLM's rule).
        self._banned_ids = np.unique([word[0] for word in bad_words if len(word) == 1]).astype(np.int64)
        self._banned_words = [tuple(word) for word in bad_words if len(word) > 1]
        self._output: list[int] = []
        self._min_tokens = int(min_tokens)
        self._end_ids = np.unique(np.asarray(list(end_token_ids), dtype=np.int64))
        self._repetition = float(repetition_penalty)
        self._frequency = float(frequency_penalty)
        self._presence = float(presence_penalty)
        self._generated = 0
        self._seen: np.ndarray | None = None  # prompt and output tokens, for the repetition penalty
        if self._repetition != 1.0:
            self._seen = np.zeros(n_vocab, dtype=bool)
            self._seen[np.asarray(list(prompt_tokens), dtype=np.int64)] = True
            self._seen_ids = np.flatnonzero(self._seen)
        self._counts: np.ndarray | None = None  # output tokens, for frequency and presence
        if self._frequency or self._presence:
            self._counts = np.zeros(n_vocab, dtype=np.float32)
            self._output_ids = np.zeros(0, dtype=np.int64)
        self._processes = (
            self._bias_ids is not None
            or self._disallowed is not None
            or self._seen is not None
            or len(self._banned_ids) > 0
            or bool(self._banned_words)
            or self._counts is not None
            or (self._min_tokens > 0 and len(self._end_ids) > 0)
        )
        self._work = np.empty(n_vocab, dtype=np.float32) if self._processes else None
        self._grammar = grammar

    def sample(self, logits: np.ndarray) -> int:
        """Draw the next token from ``logits`` and advance the sampler's state (grammar, RNG, penalties)."""
        logits = self.processed(logits)
        token = self._draw(logits)
        if self._grammar is not None:
            if not self._grammar.allows(token):
                token = self._draw(self._grammar.restrict(logits))
            self._grammar.accept(token)
        self._record(token)
        return token

    def processed(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` after bias, allowed tokens, the min-tokens mask and the penalties (a copy if any)."""
        if not self._processes:
            return logits
        out = self._work
        np.copyto(out, logits)
        if self._bias_ids is not None:
            np.add.at(out, self._bias_ids, self._bias_values)
        if self._disallowed is not None:
            out[self._disallowed] = -np.inf
        if len(self._banned_ids):
            out[self._banned_ids] = -np.inf
        for word in self._banned_words:
            if (
                len(word) - 1 <= len(self._output)
                and tuple(self._output[len(self._output) - len(word) + 1 :]) == word[:-1]
            ):
                out[word[-1]] = -np.inf
        if self._generated < self._min_tokens and len(self._end_ids):
            out[self._end_ids] = -np.inf
        if self._seen is not None and len(self._seen_ids):
            seen = out[self._seen_ids]
            out[self._seen_ids] = np.where(seen > 0, seen / self._repetition, seen * self._repetition)
        if self._counts is not None and len(self._output_ids):
            counts = self._counts[self._output_ids]
            out[self._output_ids] -= self._frequency * counts + self._presence
        return out

    def distribution(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tokens a draw from already processed ``logits`` can give, and their probabilities."""
        if self._greedy:
            return np.array([int(np.argmax(logits))]), np.ones(1)
        ids, weights = self._candidates(logits)
        keep = weights > 0
        ids, weights = ids[keep], weights[keep]
        return ids, weights / weights.sum()

    def _record(self, token: int) -> None:
        self._generated += 1
        if self._banned_words:
            self._output.append(token)
        if self._seen is not None and not self._seen[token]:
            self._seen[token] = True
            self._seen_ids = np.append(self._seen_ids, token)
        if self._counts is not None:
            if self._counts[token] == 0:
                self._output_ids = np.append(self._output_ids, token)
            self._counts[token] += 1

    def _draw(self, logits: np.ndarray) -> int:
        if self._greedy:
            return int(np.argmax(logits))
        ids, weights = self._candidates(logits)
        cumulative = np.cumsum(weights)
        drawn = int(np.searchsorted(cumulative, self._rng.random() * cumulative[-1], side="right"))
        if drawn == len(ids):  # the product rounded up to the total: the last token of weight
            drawn = int(np.searchsorted(cumulative, cumulative[-1]))
        return int(ids[drawn])

    def _candidates(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token ids left by top-k, top-p and min-p on the tempered logits, and their weights."""
        top = float(logits.max())
        if not np.isfinite(top):
            raise EngineError("the sampler has no token to draw (a grammar or a mask that allows nothing?)")
        below = top - logits  # >= 0; +inf for tokens masked out. Top-k is the same tempered or not.
        if self._top_k and self._top_k <= _SORTED_TOP_K:
            ids = _top_k(below, logits, self._top_k)
            below = below[ids] * np.float32(self._inverse_temperature)
            order = np.lexsort((ids, below))
            ids, below = ids[order], below[order]
            if self._top_p < 1.0:
                cumulative = np.cumsum(np.exp(-below, dtype=np.float64))
                taken = int(np.searchsorted(cumulative, self._top_p * cumulative[-1])) + 1
                ids, below = ids[:taken], below[:taken]
        else:
            if self._top_k:  # by the logits themselves, as in _top_k
                kth = np.partition(logits, len(logits) - self._top_k)[len(logits) - self._top_k]
                below[logits < kth] = np.inf
            below *= np.float32(self._inverse_temperature)
            if self._top_p < 1.0:
                ids = _nucleus(below, self._top_p)
            elif self._min_p_span is not None:
                ids = np.flatnonzero(below <= self._min_p_span)
            else:
                ids = np.flatnonzero(np.isfinite(below))
            below = below[ids]
        if self._min_p_span is not None:
            keep = below <= self._min_p_span
            ids, below = ids[keep], below[keep]
        return ids, np.exp(-below, dtype=np.float64)

    def close(self) -> None:
        if self._grammar is not None:
            self._grammar.close()
            self._grammar = None


def _nucleus(below: np.ndarray, top_p: float) -> np.ndarray:
    """Ids of the most probable tokens whose probability first reaches ``top_p``.

    ``below`` is each token's (tempered) logit under the largest one. Tokens come in bins of
    ``1 / _TOP_P_BINS_PER_LOGIT``: the bins above the one where the cumulative probability
    crosses ``top_p`` are taken whole, that bin's tokens are sorted (logit down, id up)
    and taken up to the crossing.
    """
    probabilities = np.exp(-below, dtype=np.float64)
    target = top_p * probabilities.sum()
    bins = np.minimum(below * _TOP_P_BINS_PER_LOGIT, _TOP_P_BINS - 1).astype(np.int32)
    cumulative = np.cumsum(np.bincount(bins, weights=probabilities, minlength=_TOP_P_BINS))
    crossing = min(int(np.searchsorted(cumulative, target)), _TOP_P_BINS - 1)
    above = np.flatnonzero(bins < crossing)
    edge = np.flatnonzero(bins == crossing)
    edge = edge[np.lexsort((edge, below[edge]))]
    still_needed = target - (cumulative[crossing - 1] if crossing > 0 else 0.0)
    taken = int(np.searchsorted(np.cumsum(probabilities[edge]), still_needed)) + 1
    return np.concatenate((above, edge[: max(1, min(taken, len(edge)))]))


def _top_k(below: np.ndarray, logits: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` tokens with the largest ``logits`` (every token tied with the k-th
    included); ``below`` is each one's distance under the largest.

    A histogram of ``below`` finds the bin holding the k-th token; only the tokens up to that
    bin are partitioned (a partition of the whole vocabulary costs more than the rest of a
    draw), by the logits themselves, as vLLM compares them: two distinct logits far under the
    largest can round to the same distance.
    """
    bins = np.minimum(below * _TOP_P_BINS_PER_LOGIT, _TOP_P_BINS - 1).astype(np.int32)
    crossing = int(np.searchsorted(np.cumsum(np.bincount(bins, minlength=_TOP_P_BINS)), k))
    ids = np.flatnonzero(bins <= crossing)
    kth = np.partition(logits[ids], len(ids) - k)[len(ids) - k]
    return ids[logits[ids] >= kth]


def sampler_seed(seed: int) -> int:
    """Map any integer seed (negative ones too) to the 32-bit seed a sampler's generator starts from."""
    return seed % _SEED_MODULUS
