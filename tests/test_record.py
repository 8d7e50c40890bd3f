"""The record type: the fields a line holds, their order, and reading a line back."""

import dataclasses
import json

import pytest

from bonito_lite import record as fields
from bonito_lite.inputs.chunking import Passage
from bonito_lite.record import FIELDS, Record

from record_factory import PROVENANCE

PASSAGE = Passage("The clinic opens at 7:30 on weekdays.", "notes.md", 2, 140, 177)


def made(unit="0123456789abcdef"):
    return Record.of_passage(PASSAGE, "extractive question answering", 1, "toy-bonito.gguf", 3, unit=unit)


def through_a_line(record: Record) -> Record:
    line = json.dumps(record.to_json(), ensure_ascii=False) + "\n"
    return Record.from_json(json.loads(line))


def test_the_field_names_are_the_attributes_in_their_order():
    assert FIELDS == tuple(f.name for f in dataclasses.fields(Record))
    assert all(getattr(fields, name.upper()) == name for name in FIELDS)


def test_a_kept_example_round_trips_with_its_fields_in_order():
    record = made().parsed("When does it open?", "7:30")
    data = record.to_json()
    assert list(data) == ["input", "output", *PROVENANCE, "unit"]
    assert data["context"] == PASSAGE.text and (data["char_start"], data["char_end"]) == (140, 177)
    assert record.kept
    assert through_a_line(record) == record


def test_a_generation_that_did_not_parse_round_trips_with_its_reason_and_text():
    record = made().unparsed("no_pipe", "When does it open? 7:30")
    assert list(record.to_json()) == ["reason", "generation", *PROVENANCE, "unit"]
    assert not record.kept
    assert through_a_line(record) == record


def test_an_example_a_filter_rejected_round_trips_with_reason_and_detail_first():
    record = made().parsed("When?", "8:00").rejected("answer_not_in_passage", "the answer '8:00' does not occur")
    assert list(record.to_json()) == ["reason", "detail", "input", "output", *PROVENANCE, "unit"]
    assert through_a_line(record) == record


def test_an_empty_generation_is_still_written():
    record = made().unparsed("no_pipe", "")
    assert record.to_json()["generation"] == ""
    assert through_a_line(record) == record


def test_a_record_without_a_unit_key_has_no_unit_field():
    record = made(unit=None).parsed("When?", "7:30")
    assert "unit" not in record.to_json()
    assert through_a_line(record) == record


def test_fields_a_record_does_not_declare_are_not_read():
    data = {**made().parsed("When?", "7:30").to_json(), "review": "kept"}
    assert Record.from_json(data) == made().parsed("When?", "7:30")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"context": None}, "it has no context"),
        ({"seed": "3"}, "its seed is str, not int"),
        ({"passage_index": True}, "its passage_index is bool, not int"),
        ({"output": 7}, "its output is int, not str"),
    ],
)
def test_a_line_that_is_not_a_whole_record_is_refused_naming_the_field(change, message):
    data = {**made().parsed("When?", "7:30").to_json(), **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        Record.from_json(data)
