"""The sampler against vLLM's procedure, written out here from vLLM's sampler on fixed logits.

vLLM (upstream Bonito's engine) divides the logits by the temperature, then applies top-k,
top-p and min-p to the tempered distribution, then draws; penalties, logit bias and the
min-tokens mask come before. The reference below follows vLLM's code step by step (sort
ascending, mask below the k-th value, mask where the ascending cumulative probability is at
most 1 - top_p but keep the largest, mask probabilities under min_p times the largest).
"""

from __future__ import annotations

import numpy as np
import pytest

from bonito_lite.engines.generation import Sampling
from bonito_lite.engines.sampler import SamplerChain

# Mistral's vocabulary: as many logits as bonito-v1 gives.
N_VOCAB = 32000


def vllm_probabilities(
    logits: np.ndarray, temperature: float, top_k: int = -1, top_p: float = 1.0, min_p: float = 0.0
) -> np.ndarray:
    """Each token's probability of being drawn, as vLLM's sampler computes it."""
    tempered = logits.astype(np.float64) / temperature
    order = np.argsort(tempered, kind="stable")  # ascending, as vLLM sorts
    ascending = tempered[order]
    k = len(logits) if top_k <= 0 else top_k
    ascending = np.where(ascending < ascending[len(logits) - k], -np.inf, ascending)
    probabilities = np.exp(ascending - ascending.max())
    probabilities /= probabilities.sum()
    remove = np.cumsum(probabilities) <= 1 - top_p
    remove[-1] = False
    ascending = np.where(remove, -np.inf, ascending)
    masked = np.empty_like(ascending)
    masked[order] = ascending
    probabilities = np.exp(masked - masked.max())
    probabilities /= probabilities.sum()
    if min_p > 0:
        probabilities = np.where(probabilities < min_p * probabilities.max(), 0.0, probabilities)
        probabilities /= probabilities.sum()
    return probabilities


def vllm_penalised(
    logits: np.ndarray, prompt: list[int], output: list[int], repetition: float, frequency: float, presence: float
) -> np.ndarray:
    """vLLM's penalties: repetition over prompt and output tokens, then frequency and presence over output ones."""
    out = logits.astype(np.float64).copy()
    seen = np.zeros(len(logits), dtype=bool)
    seen[prompt] = True
    seen[output] = True
    penalty = np.where(seen, repetition, 1.0)
    out = np.where(out > 0, out / penalty, out * penalty)
    counts = np.bincount(output, minlength=len(logits)).astype(np.float64)
    out -= frequency * counts
    out -= presence * (counts > 0)
    return out


def _logits(seed: int) -> np.ndarray:
    """A language-model-like spread: a few likely tokens above a long tail."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(N_VOCAB) * 2.0).astype(np.float32)
    logits[rng.choice(N_VOCAB, 12, replace=False)] += np.linspace(9.0, 14.0, 12, dtype=np.float32)
    return logits


def _ours(logits: np.ndarray, **settings) -> np.ndarray:
    sampler = SamplerChain(N_VOCAB, seed=0, **settings)
    ids, probabilities = sampler.distribution(sampler.processed(logits))
    dense = np.zeros(N_VOCAB)
    dense[ids] = probabilities
    sampler.close()
    return dense


CHAINS = [
    dict(top_p=0.95),
    dict(top_p=0.8),
    dict(top_p=1.0, top_k=5),
    dict(top_p=0.9, top_k=50),
    dict(top_p=1.0, min_p=0.05),
    dict(top_p=0.95, top_k=8, min_p=0.1),
    dict(top_p=0.999, top_k=20000),
]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 1.7])
@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_the_distribution_is_vllms_same_support_same_probabilities(temperature, chain):
    logits = _logits(int(temperature * 10) + len(chain))
    expected = vllm_probabilities(logits, temperature, chain.get("top_k", -1), chain["top_p"], chain.get("min_p", 0.0))
    ours = _ours(logits, temperature=temperature, **chain)
    assert set(np.flatnonzero(ours)) == set(np.flatnonzero(expected))
    assert np.allclose(ours, expected, rtol=1e-5, atol=1e-12)


def test_the_nucleus_is_taken_after_the_temperature():
    # p = [.9, .05, .03, .02]. At temperature 0.5 the tempered distribution puts 0.995 on the
    # first token, so top-p 0.95 keeps it alone; a nucleus taken before tempering keeps the
    # second too (0.9 < 0.95) and draws it 0.3% of the time. At temperature 2 the tempered
    # distribution is flatter (.64, .15, .12, .09) and all four are needed, where a nucleus
    # taken first would keep two.
    logits = np.full(N_VOCAB, -1e4, dtype=np.float32)
    logits[[10, 11, 12, 13]] = np.log([0.9, 0.05, 0.03, 0.02])
    low = _ours(logits, temperature=0.5, top_p=0.95)
    assert set(np.flatnonzero(low)) == {10}
    high = _ours(logits, temperature=2.0, top_p=0.95)
    assert set(np.flatnonzero(high)) == {10, 11, 12, 13}
    for temperature, ours in ((0.5, low), (2.0, high)):
        assert np.allclose(ours, vllm_probabilities(logits, temperature, top_p=0.95), rtol=1e-6)


# Chi-square critical values at a 0.1% level, by degrees of freedom (statistics tables).
_CHI2_CRITICAL_0_001 = {3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32}


@pytest.mark.parametrize(
    "temperature,top_p,top_k,min_p", [(0.6, 0.9, -1, 0.0), (1.5, 0.95, 6, 0.0), (1.3, 1.0, -1, 0.08)]
)
def test_many_draws_follow_vllms_probabilities(temperature, top_p, top_k, min_p):
    logits = np.full(N_VOCAB, -50.0, dtype=np.float32)
    logits[[3, 4, 5, 6, 7, 8, 9]] = [3.0, 2.6, 2.2, 1.9, 1.0, 0.2, -0.5]
    expected = vllm_probabilities(logits, temperature, top_k, top_p, min_p)
    support = np.flatnonzero(expected)
    assert 4 <= len(support) <= 8
    sampler = SamplerChain(N_VOCAB, temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p, seed=12345)
    draws = np.array([sampler.sample(logits) for _ in range(6000)])
    sampler.close()
    assert set(np.unique(draws)) <= set(support)
    observed = np.bincount(draws, minlength=N_VOCAB)[support]
    wanted = expected[support] * len(draws)
    chi2 = float(((observed - wanted) ** 2 / wanted).sum())
    assert chi2 < _CHI2_CRITICAL_0_001[len(support) - 1], (observed, wanted)


def test_draws_repeat_with_the_seed_and_differ_with_another():
    logits = _logits(3)

    def draws(seed):
        sampler = SamplerChain(N_VOCAB, temperature=1.0, top_p=0.95, seed=seed)
        result = [sampler.sample(logits) for _ in range(300)]
        sampler.close()
        return result

    assert draws(4) == draws(4)
    assert draws(4) != draws(5)


def test_a_temperature_of_zero_is_greedy_and_one_above_zero_below_a_hundredth_is_a_hundredth():
    # vLLM's SamplingParams raises 0 < T < 0.01 to 0.01 (_MAX_TEMP); only 0 is greedy.
    logits = _logits(5)
    sampler = SamplerChain(N_VOCAB, temperature=0.0, top_p=0.5, seed=1)
    assert {sampler.sample(logits) for _ in range(20)} == {int(np.argmax(logits))}
    close = np.zeros(N_VOCAB, dtype=np.float32)
    close[100], close[101] = 10.0, 9.99
    expected = vllm_probabilities(close, temperature=0.01, top_p=1.0)
    for temperature in (5e-6, 0.002, 0.01):
        ids, probabilities = SamplerChain(N_VOCAB, temperature=temperature, top_p=1.0, seed=1).distribution(close)
        ours = np.zeros(N_VOCAB)
        ours[ids] = probabilities
        assert np.allclose(ours, expected, atol=1e-6), temperature
        assert 0.2 < ours[101] < 0.3


def test_a_logit_bias_is_clamped_to_a_hundred_as_vllm_clamps_it():
    logits = np.zeros(N_VOCAB, dtype=np.float32)
    logits[10], logits[11] = -60.0, 50.0
    for bias in (150.0, float("inf")):
        sampler = SamplerChain(N_VOCAB, temperature=1.0, top_p=1.0, seed=1, logit_bias={10: bias})
        assert sampler.sample(logits) == 11  # -60 + 100 = 40, still under 50
    with pytest.raises(ValueError, match="logit_bias holds NaN"):
        Sampling(logit_bias=((10, float("nan")),)).check()


def test_parameters_within_vllms_epsilon_of_off_are_off():
    logits = _logits(6)
    plain = SamplerChain(N_VOCAB, temperature=1.0, top_p=1.0, seed=1).distribution(logits)
    for nearly_off in ({"min_p": 5e-6}, {"top_p": 0.999995}, {"repetition_penalty": 1.000001}):
        kwargs = {"temperature": 1.0, "top_p": 1.0, "seed": 1, "prompt_tokens": [1, 2, 3], **nearly_off}
        ids, probabilities = SamplerChain(N_VOCAB, **kwargs).distribution(logits)
        assert np.array_equal(ids, plain[0]) and np.allclose(probabilities, plain[1]), nearly_off


def _forcing(token: int) -> np.ndarray:
    logits = np.zeros(N_VOCAB, dtype=np.float32)
    logits[token] = 100.0
    return logits


def test_penalties_are_vllms_over_prompt_and_output_tokens():
    logits = _logits(9)
    logits[[40, 41, 42, 43]] = [2.5, -1.5, 3.0, -2.0]  # positive and negative penalised logits
    prompt = [1, 40, 41, 41]
    output = [42, 42, 43, 40]
    sampler = SamplerChain(
        N_VOCAB,
        temperature=0.0,
        top_p=1.0,
        seed=0,
        prompt_tokens=prompt,
        repetition_penalty=1.3,
        frequency_penalty=0.4,
        presence_penalty=0.25,
    )
    for token in output:  # greedy on logits that force each token: the output so far
        assert sampler.sample(_forcing(token)) == token
    expected = vllm_penalised(logits, prompt, output, 1.3, 0.4, 0.25)
    assert np.allclose(sampler.processed(logits), expected, rtol=1e-6, atol=1e-5)
    sampler.close()


def test_min_tokens_masks_end_and_stop_tokens_until_reached():
    logits = np.zeros(N_VOCAB, dtype=np.float32)
    logits[[2, 77]] = 50.0  # the end token and a stop token lead by far
    logits[5] = 10.0
    sampler = SamplerChain(N_VOCAB, temperature=0.0, top_p=1.0, seed=0, min_tokens=3, end_token_ids=(2, 77))
    assert [sampler.sample(logits) for _ in range(4)] == [5, 5, 5, 2]
    sampler.close()


def test_logit_bias_and_allowed_tokens_come_before_the_chain():
    logits = _logits(11)
    sampler = SamplerChain(
        N_VOCAB, temperature=0.8, top_p=0.9, seed=0, logit_bias={7: 40.0, 8: -5.0}, allowed_token_ids=[7, 8, 9]
    )
    processed = sampler.processed(logits)
    assert np.isneginf(processed[[0, 1, 10]]).all()
    assert processed[7] == pytest.approx(logits[7] + 40.0) and processed[8] == pytest.approx(logits[8] - 5.0)
    expected_logits = np.full(N_VOCAB, -np.inf, dtype=np.float32)
    expected_logits[[7, 8, 9]] = [logits[7] + 40.0, logits[8] - 5.0, logits[9]]
    ours = _ours(logits, temperature=0.8, top_p=0.9, logit_bias={7: 40.0, 8: -5.0}, allowed_token_ids=[7, 8, 9])
    assert np.allclose(ours, vllm_probabilities(expected_logits, 0.8, top_p=0.9))
    assert {sampler.sample(logits) for _ in range(50)} <= {7, 8, 9}
    sampler.close()


def test_bad_words_are_banned_as_vllm_bans_them():
    # A one-token word is never drawn; a two-token word's last token only right after its first.
    sampler = SamplerChain(N_VOCAB, temperature=0.0, top_p=1.0, seed=0, bad_words=[[50], [60, 61]])
    logits = np.zeros(N_VOCAB, dtype=np.float32)
    logits[[50, 61]] = [30.0, 20.0]
    logits[60] = 10.0
    assert sampler.sample(logits) == 61  # 50 banned; 61 allowed: 60 did not come before
    assert sampler.sample(_forcing(60)) == 60
    assert sampler.sample(logits) == 60  # 61 now completes the banned word
    sampler.close()


def test_top_k_compares_the_logits_not_their_rounded_distances_from_the_largest():
    logits = np.full(N_VOCAB, -50.0, dtype=np.float32)
    logits[0], logits[1], logits[2] = 30.0, 1.0000001, 1.0  # 29 below, in float32, for both
    ids, _ = SamplerChain(N_VOCAB, temperature=1.0, top_p=1.0, top_k=2, seed=1).distribution(logits)
    assert sorted(ids.tolist()) == [0, 1]


def test_top_k_above_the_sorted_limit_compares_the_logits_too():
    logits = np.full(N_VOCAB, -50.0, dtype=np.float32)
    logits[:4095] = np.linspace(40.0, 30.0, 4095, dtype=np.float32)
    logits[4095], logits[4096] = 1.0000001, 1.0
    ids, _ = SamplerChain(N_VOCAB, temperature=1.0, top_p=1.0, top_k=4096, seed=1).distribution(logits)
    assert len(ids) == 4096 and 4096 not in ids.tolist()
