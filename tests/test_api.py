"""The upstream-shaped Python API on the bundled toy model."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from datasets import Dataset

from bonito_lite import Bonito, SamplingParams
from bonito_lite.errors import InputError, ModelFileError

PASSAGES = [
    "The Riverside clinic opens at 7:30 on weekdays. Dr. Amal Haddad leads the morning team.",
    "Invoices above 500 euros need two signatures, one of them from the finance office.",
    "The warehouse in Tilburg moved to a four-day week in March 2024 after a staff vote.",
]


@pytest.fixture(scope="module")
def texts():
    return Dataset.from_dict({"input": PASSAGES, "id": [1, 2, 3]})


@pytest.mark.slow
def test_generate_tasks_returns_a_dataset_of_input_and_output(bonito, texts):
    synthetic = bonito.generate_tasks(
        texts,
        context_col="input",
        task_type="nli",
        sampling_params=SamplingParams(max_tokens=96, top_p=0.95, temperature=0.5, n=2),
    )
    assert isinstance(synthetic, Dataset)
    assert synthetic.column_names == ["input", "output"]
    # 3 rows x 2 samples; the toy parses most of them.
    assert 3 <= synthetic.num_rows <= 6
    assert all(isinstance(value, str) for value in list(synthetic["input"]) + list(synthetic["output"]))


def test_rejected_generations_come_back_with_reasons_and_are_logged(bonito, texts, caplog):
    caplog.set_level(logging.WARNING, logger="bonito_lite")
    # Eight new tokens are too few for a whole example: every generation is rejected.
    parsed, rejected = bonito.generate_tasks(
        texts,
        context_col="input",
        task_type="exqa",
        sampling_params=SamplingParams(max_tokens=8),
        return_rejected=True,
    )
    assert parsed.num_rows + rejected.num_rows == 3
    assert rejected.num_rows >= 1
    assert set(rejected["reason"]) <= {"truncated", "no_pipe", "too_many_pipes"}
    assert "did not parse" in caplog.text


def test_any_object_with_upstream_sampling_attributes_works(bonito, texts):
    vllm_like = SimpleNamespace(max_tokens=64, top_p=0.9, temperature=0.0, n=1, seed=None)
    first = bonito.generate_tasks(texts, "input", "ynqa", vllm_like, return_rejected=True)
    second = bonito.generate_tasks(texts, "input", "ynqa", vllm_like, return_rejected=True)
    assert first[0].to_list() == second[0].to_list()  # greedy: the same whatever the seed drawn

    def without_seed(records):
        return [{k: v for k, v in r.items() if k != "seed"} for r in records]

    assert without_seed(first[1].to_list()) == without_seed(second[1].to_list())


def test_missing_context_column_names_the_columns(bonito, texts):
    with pytest.raises(InputError, match="input, id"):
        bonito.generate_tasks(texts, context_col="text", task_type="nli")


def test_a_hub_id_says_to_convert_first(in_tmp):
    with pytest.raises(ModelFileError, match="'bonito-lite convert BatsResearch/bonito-v1'"):
        Bonito("BatsResearch/bonito-v1")


def test_api_errors_name_the_api_arguments_not_the_cli_options():
    for kwargs, name in [({"url": "ftp://host"}, "url"), ({"parallel": 0}, "parallel"), ({"ctx_size": 8}, "ctx_size")]:
        with pytest.raises(InputError) as raised:
            Bonito("toy", **kwargs)
        assert str(raised.value).startswith(name) and "--" not in str(raised.value)


@pytest.mark.parametrize(
    "column, row",
    [([PASSAGES[0], None], 1), ([42.0], 0), ([{"a": "text"}], 0), ([["one", "two"]], 0)],
    ids=["none", "number", "dict", "list"],
)
def test_a_row_that_is_not_text_is_refused_naming_it_not_turned_into_a_passage(bonito, column, row):
    rows = Dataset.from_dict({"text": column})
    with pytest.raises(InputError, match=rf"row {row} of context_col 'text' holds .*, not text"):
        bonito.generate_tasks(rows, context_col="text", task_type="qg")


def test_a_task_type_that_is_not_a_name_is_a_value_error(bonito, texts):
    for bad in (None, 3):
        with pytest.raises(ValueError, match="a task type is a name"):
            bonito.generate_tasks(texts, context_col="input", task_type=bad)


def test_a_dataset_dict_or_an_empty_dataset_is_named_as_such(bonito, texts):
    from datasets import DatasetDict

    with pytest.raises(InputError, match="not DatasetDict with splits train; pass one"):
        bonito.generate_tasks(DatasetDict(train=texts), context_col="input", task_type="qg")
    with pytest.raises(InputError, match="its columns: none"):
        bonito.generate_tasks(Dataset.from_list([]), context_col="input", task_type="qg")


def test_greedy_sampling_with_several_samples_is_refused_as_vllm_refuses_it(bonito, texts):
    with pytest.raises(ValueError, match="n must be 1 when using greedy sampling, got 3"):
        bonito.generate_tasks(texts, "input", "qg", SamplingParams(temperature=0.0, n=3))


def test_a_seed_of_minus_one_is_vllms_no_seed(bonito, texts):
    from bonito_lite.api import sampling_from

    assert sampling_from(SamplingParams(seed=-1))[2] is None
    assert sampling_from(SamplingParams(seed=7))[2] == 7


def test_a_tiny_temperature_is_not_greedy_so_several_samples_are_allowed():
    from bonito_lite.api import sampling_from

    assert sampling_from(SamplingParams(temperature=1e-6, n=2))[1] == 2
