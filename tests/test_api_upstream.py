"""Upstream Bonito's documented usage, run with only the import changed, on the bundled toy model.

Upstream's README builds ``Bonito("BatsResearch/bonito-v1")`` and passes a vLLM
``SamplingParams``; its tutorial subclasses ``AbstractBonito`` and seeds with transformers'
``set_seed``. vLLM is not installed here: a stand-in object carries every field of vLLM's
``SamplingParams`` with vLLM's defaults.
"""

from __future__ import annotations

import enum
import logging
import os
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from datasets import Dataset

from bonito_lite import SHORTFORM_TO_FULL_TASK_TYPES, AbstractBonito, Bonito, SamplingParams
from bonito_lite.models.metadata import SOURCE_HF_REPOSITORY_KEY
from bonito_lite.models.paths import toy_model_path
from bonito_lite.prompt import build_prompt

from model_factory import copy_gguf

CONTRACT = [
    "The Recipient shall not disclose Confidential Information to any third party without consent.",
    "This Agreement ends on 1 May 2026 unless both parties extend it in writing.",
    "Invoices above 500 euros need two signatures, one of them from the finance office.",
    "The warehouse in Tilburg moved to a four-day week in March 2024 after a staff vote.",
]


class RequestOutputKind(enum.Enum):  # vLLM's enum, for the stand-in's output_kind
    CUMULATIVE = 0


# vLLM's SamplingParams (0.7): every field and its default.
VLLM_DEFAULTS = dict(
    n=1,
    best_of=None,
    presence_penalty=0.0,
    frequency_penalty=0.0,
    repetition_penalty=1.0,
    temperature=1.0,
    top_p=1.0,
    top_k=-1,
    min_p=0.0,
    seed=None,
    stop=None,
    stop_token_ids=None,
    bad_words=None,
    ignore_eos=False,
    max_tokens=16,
    min_tokens=0,
    logprobs=None,
    prompt_logprobs=None,
    detokenize=True,
    skip_special_tokens=True,
    spaces_between_special_tokens=True,
    logits_processors=None,
    include_stop_str_in_output=False,
    truncate_prompt_tokens=None,
    output_kind=RequestOutputKind.CUMULATIVE,
    guided_decoding=None,
    logit_bias=None,
    allowed_token_ids=None,
)


def vllm_sampling_params(**fields) -> SimpleNamespace:
    """What ``vllm.SamplingParams(**fields)`` holds: vLLM's defaults for the rest."""
    return SimpleNamespace(**{**VLLM_DEFAULTS, **fields})


@pytest.fixture(scope="module")
def bonito():
    with Bonito("toy") as model:
        yield model


@pytest.fixture(scope="module")
def contracts():
    return Dataset.from_dict({"input": CONTRACT[:3]})


def test_upstreams_readme_example_runs_with_only_the_import_changed(tmp_path, monkeypatch):
    # A GGUF converted from the hub id sits in ./models, as 'bonito-lite convert' leaves it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    copy_gguf(
        toy_model_path(),
        tmp_path / "models" / "bonito-v1.Q8_0.gguf",
        extra={SOURCE_HF_REPOSITORY_KEY: "BatsResearch/bonito-v1"},
    )

    bonito = Bonito("BatsResearch/bonito-v1")
    unannotated_text = Dataset.from_dict({"input": CONTRACT[:2]})
    sampling_params = vllm_sampling_params(max_tokens=256, top_p=0.95, temperature=0.5, n=1)
    synthetic_dataset = bonito.generate_tasks(
        unannotated_text,
        context_col="input",
        task_type="nli",
        sampling_params=sampling_params,
    )
    assert bonito.model_path == Path("models") / "bonito-v1.Q8_0.gguf"
    assert isinstance(synthetic_dataset, Dataset)
    assert synthetic_dataset.column_names == ["input", "output"]
    assert synthetic_dataset.num_rows >= 1
    bonito.close()


def test_every_field_vllm_can_set_that_a_local_sampler_honours_is_accepted(bonito, contracts):
    params = vllm_sampling_params(
        n=2,
        presence_penalty=0.2,
        frequency_penalty=0.1,
        repetition_penalty=1.1,
        temperature=0.8,
        top_p=0.9,
        top_k=40,
        min_p=0.02,
        seed=3,
        stop=["\\n\\n\\n"],
        stop_token_ids=[31999],
        max_tokens=48,
        min_tokens=2,
        include_stop_str_in_output=False,
        logit_bias={13: -1.0},
        ignore_eos=False,
        bad_words=["Options"],
    )
    parsed, rejected = bonito.generate_tasks(
        contracts, "input", "qg", params, return_rejected=True, quality_filters=False
    )
    assert parsed.num_rows + rejected.num_rows == 2 * contracts.num_rows


@pytest.mark.parametrize(
    "field,value",
    [
        ("use_beam_search", True),
        ("best_of", 3),
        ("logprobs", 2),
        ("prompt_logprobs", 1),
        ("logits_processors", [print]),
        ("guided_decoding", object()),
        ("detokenize", False),
        ("truncate_prompt_tokens", 100),
    ],
)
def test_a_field_that_cannot_be_honoured_is_refused_with_a_value_error_naming_it(bonito, contracts, field, value):
    with pytest.raises(ValueError, match=field):
        bonito.generate_tasks(contracts, "input", "nli", vllm_sampling_params(**{field: value}))


def test_our_sampling_params_takes_vllms_fields_and_refuses_what_vllm_refuses():
    assert SamplingParams(top_k=50, min_p=0.05, stop=["###"], repetition_penalty=1.2).top_k == 50
    for field, value in [
        ("n", 0),
        ("max_tokens", 0),
        ("top_p", 0.0),
        ("temperature", -1.0),
        ("top_k", -5),
        ("min_tokens", 300),
    ]:
        with pytest.raises(ValueError, match=field):
            SamplingParams(**{field: value})
    with pytest.raises(ValueError, match="use_beam_search"):
        from bonito_lite.api import sampling_from

        sampling_from(SimpleNamespace(use_beam_search=True))


def _generations(result) -> list[str]:
    parsed, rejected = result
    return [f"{r['input']}|{r['output']}" for r in parsed] + [str(g) for g in rejected["generation"]]


def test_seed_none_samples_anew_each_call_and_the_drawn_seed_repeats_it(bonito, contracts):
    params = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=48, seed=None)
    random.seed(1)
    first = _generations(bonito.generate_tasks(contracts, "input", "qg", params, return_rejected=True))
    first_seed = bonito.last_seed
    second = _generations(bonito.generate_tasks(contracts, "input", "qg", params, return_rejected=True))
    assert bonito.last_seed != first_seed
    assert first != second
    again = _generations(
        bonito.generate_tasks(
            contracts,
            "input",
            "qg",
            SamplingParams(temperature=1.0, top_p=1.0, max_tokens=48, seed=first_seed),
            return_rejected=True,
        )
    )
    assert again == first


def test_set_seed_before_a_call_repeats_it_as_in_upstreams_tutorial(bonito, contracts):
    from transformers import set_seed

    params = SamplingParams(temperature=0.7, top_p=0.95, max_tokens=48)
    runs = []
    for seed in (2, 2, 55):
        set_seed(seed)  # seeds Python's random module, which seed=None draws from
        runs.append(_generations(bonito.generate_tasks(contracts, "input", "nli", params, return_rejected=True)))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_identical_rows_get_independent_samples(bonito):
    same = Dataset.from_dict({"input": [CONTRACT[0]] * 6})
    params = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=48, seed=11)
    generations = _generations(
        bonito.generate_tasks(same, "input", "qg", params, return_rejected=True, quality_filters=False)
    )
    assert len(generations) == 6
    assert len(set(generations)) > 1


def test_upstreams_map_keywords_are_accepted_and_named_in_a_debug_line(bonito, contracts, caplog):
    caplog.set_level(logging.DEBUG, logger="bonito_lite")
    bonito.generate_tasks(contracts, "input", "ynqa", SamplingParams(max_tokens=16, seed=1), num_proc=4)
    assert "num_proc=4" in caplog.text


def test_an_unknown_task_type_is_a_value_error(bonito, contracts):
    with pytest.raises(ValueError, match="unknown task type 'poetry'"):
        bonito.generate_tasks(contracts, "input", "poetry", SamplingParams())


def test_a_row_too_long_for_the_model_is_rejected_alone_and_the_call_goes_on(bonito, caplog):
    caplog.set_level(logging.WARNING, logger="bonito_lite")
    long_row = " ".join(f"clause{i}" for i in range(1500))  # about 3,000 tokens
    with_long = Dataset.from_dict({"input": [CONTRACT[0], long_row, CONTRACT[1], CONTRACT[2]]})
    assert bonito._tokenizer.count_tokens(long_row) > 2900
    parsed, rejected = bonito.generate_tasks(
        with_long, "input", "qg", SamplingParams(max_tokens=48, seed=4), return_rejected=True, quality_filters=False
    )
    too_long = [r for r in rejected.to_list() if r["reason"] == "too_long"]
    assert len(too_long) == 1 and too_long[0]["context"] == long_row
    assert parsed.num_rows + rejected.num_rows == 4
    assert "1 of 4 rows were too long" in caplog.text
    assert "--" not in caplog.text  # API messages name API arguments, not CLI flags


def test_a_call_leaves_the_environment_as_it_found_it(contracts):
    before = dict(os.environ)
    with Bonito("toy") as bonito:
        bonito.generate_tasks(contracts, "input", "qg", SamplingParams(max_tokens=8, seed=1))
        assert dict(os.environ) == before
    assert dict(os.environ) == before


def test_a_gguf_without_bonito_metadata_works(tmp_path, contracts):
    # What llama.cpp's own converter writes (published GGUF conversions of bonito-v1): no bonito.* keys.
    plain = copy_gguf(toy_model_path(), tmp_path / "bonito-v1.Q8_0.gguf", drop_prefix="bonito.")
    with Bonito(plain) as bonito:
        parsed, rejected = bonito.generate_tasks(
            contracts, "input", "qg", SamplingParams(max_tokens=48, seed=2), return_rejected=True
        )
    assert parsed.num_rows + rejected.num_rows == contracts.num_rows
    assert parsed.num_rows >= 1


# -- upstream's tutorial: a subclass of AbstractBonito generating with a model of its own ---------


class TransformersBonito(AbstractBonito):
    """Upstream's tutorial class, shape for shape: transformers generates, AbstractBonito frames and parses.

    The tokenizer is the checkpoint's SentencePiece model read directly (transformers' own
    loader would need protobuf here), with BOS added as the checkpoint's config says.
    """

    def __init__(self, model_name_or_path):
        import sentencepiece
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(model_name_or_path)
        self.tokenizer = sentencepiece.SentencePieceProcessor(
            model_file=str(Path(model_name_or_path) / "tokenizer.model")
        )

    def generate_task(self, unannotated_paragraph: str, task_type: str, sampling_params: dict) -> list[dict]:
        text_dataset = Dataset.from_list([{"input": unannotated_paragraph}])
        processed_dataset = self._prepare_bonito_input(text_dataset, task_type, context_col="input")
        outputs = self._generate_text(processed_dataset["input"], sampling_params)
        examples = []
        for i, example in enumerate(text_dataset.to_list()):
            example["prediction"] = outputs[i].strip()
            examples.append(example)
        synthetic_dataset = Dataset.from_list(examples)
        self.predictions = outputs
        return self._postprocess_dataset(synthetic_dataset, context_col="input").to_list()

    def _generate_text(self, dataset, sampling_params: dict) -> list[str]:
        generated_texts = []
        for prompt in dataset:
            import torch

            input_ids = torch.tensor([[self.tokenizer.bos_id(), *self.tokenizer.encode(prompt)]])
            output = self.model.generate(input_ids, do_sample=True, **sampling_params)
            generated_texts.append(self.tokenizer.decode(output[0][len(input_ids[0]) :].tolist()))
        return generated_texts


def test_upstreams_tutorial_subclass_runs_with_only_the_import_changed(tiny_checkpoint):
    from transformers import set_seed

    bonito = TransformersBonito(str(tiny_checkpoint))
    sampling_params = {"max_new_tokens": 12, "top_p": 0.95, "temperature": 0.7, "num_return_sequences": 1}
    predictions = []
    for _ in range(2):
        set_seed(2)
        bonito.generate_task(CONTRACT[0], task_type="nli", sampling_params=sampling_params)
        predictions.append(bonito.predictions)
    assert predictions[0] == predictions[1]  # set_seed makes it deterministic, as the tutorial says
    prompts = bonito._prepare_bonito_input(Dataset.from_dict({"input": CONTRACT}), "mcqa", context_col="input")
    assert prompts.column_names == ["input"]
    assert prompts["input"] == [build_prompt("multiple-choice question answering", c) for c in CONTRACT]
    with pytest.raises(ValueError):
        bonito._prepare_bonito_input(Dataset.from_dict({"input": CONTRACT}), "poetry", context_col="input")


def test_postprocess_keeps_exactly_one_pipe_and_fills_in_the_context():
    predictions = Dataset.from_dict(
        {
            "context": ["  A cat.  ", "B", "C", "D"],
            "prediction": [
                "Is {{context}} true?<|pipe|>Yes, {{context}}",
                "no pipe",
                "a<|pipe|>b<|pipe|>c",
                " x <|pipe|> y ",
            ],
        }
    )
    kept = AbstractBonito()._postprocess_dataset(predictions, context_col="context", num_proc=1)
    assert kept.to_list() == [
        {"input": "Is A cat. true?", "output": "Yes, A cat."},
        {"input": "x", "output": "y"},
    ]


def test_the_short_form_table_is_upstreams():
    assert len(SHORTFORM_TO_FULL_TASK_TYPES) == 16
    assert SHORTFORM_TO_FULL_TASK_TYPES["nli"] == "natural language inference"
    assert SHORTFORM_TO_FULL_TASK_TYPES["mcqa"] == "multiple-choice question answering"
