import pytest

from bonito_lite.errors import InputError
from bonito_lite.task_types import TASK_TYPES, resolve_task_type, resolve_task_types


def test_there_are_sixteen_distinct_task_types():
    assert len(TASK_TYPES) == 16
    for field in ("short", "full_name", "alias"):
        assert len({getattr(t, field) for t in TASK_TYPES}) == 16


@pytest.mark.parametrize("name", ["Yes-No Question Answering", "yes_no_question_answering", "ynqa", "YES NO QA"])
def test_names_match_ignoring_case_and_separators(name):
    assert resolve_task_type(name).full_name == "yes-no question answering"


def test_every_short_form_full_name_and_alias_resolves_to_its_type():
    for task in TASK_TYPES:
        for name in (task.short, task.full_name, task.alias):
            assert resolve_task_type(name) is task


def test_unknown_task_type_names_the_closest_matches():
    with pytest.raises(InputError, match="extractive_qa"):
        resolve_task_type("extractive_qq")


def test_all_expands_to_every_type_once_in_table_order():
    resolved = resolve_task_types(["nli", "all"])
    assert resolved[0].short == "nli"
    assert sorted(t.short for t in resolved) == sorted(t.short for t in TASK_TYPES)
