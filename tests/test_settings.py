"""Messages name a setting as its caller spells it: --flags from the command line, arguments from Python."""

from __future__ import annotations

import logging

import pytest
from datasets import Dataset

from bonito_lite import Bonito
from bonito_lite.engines import local as engine_module
from bonito_lite.engines.resources import MemoryState, memory_needed
from bonito_lite.models.info import read_model_info
from bonito_lite.models.paths import toy_model_path
from bonito_lite.settings import NUM_SAMPLES, TOP_K, Caller, called_from

from cli_helpers import SAMPLE, run_cli

# A machine of 8 GB keeps the minimum headroom, 1 GiB, free.
SMALL_MACHINE = 8_000_000_000


@pytest.fixture
def room_for_one_sequence(monkeypatch):
    """Memory for the toy and one sequence of up to 2,048 tokens, so that 8 of 300 or more do not fit."""
    info = read_model_info(toy_model_path())
    available = memory_needed(info, 2048, 1) + 2**30 + 1
    monkeypatch.setattr(engine_module, "memory_state", lambda: MemoryState(available, SMALL_MACHINE))


def test_a_setting_is_named_as_the_caller_spells_it():
    assert NUM_SAMPLES.named() == "--num-samples"
    with called_from(Caller.API):
        assert NUM_SAMPLES.named() == "n"
        with called_from(Caller.CLI):
            assert NUM_SAMPLES.named() == "--num-samples"
        assert NUM_SAMPLES.named() == "n"
    assert NUM_SAMPLES.named() == "--num-samples"


def test_a_check_names_the_setting_and_its_range_as_the_caller_spells_them():
    with pytest.raises(ValueError, match=r"^--top-k must be at least 0 \(0 is off\), got -1\.$"):
        TOP_K.check(-1, Caller.CLI)
    TOP_K.check(-1, Caller.API)  # vLLM's off
    with pytest.raises(ValueError, match=r"^top_k must be at least -1 \(-1 and 0 are off\), got -2\.$"):
        TOP_K.check(-2, Caller.API)
    with called_from(Caller.API), pytest.raises(ValueError, match="^top_k "):
        TOP_K.check(-2)


@pytest.mark.slow
def test_the_memory_check_names_parallel_as_the_python_api_spells_it(room_for_one_sequence, caplog):
    rows = Dataset.from_dict({"text": ["The clinic opens at 7:30 on weekdays; Dr. Haddad leads the team."]})
    with caplog.at_level(logging.WARNING, logger="bonito_lite"), Bonito("toy", parallel=8) as bonito:
        bonito.generate_tasks(rows, "text", "exqa")
        assert bonito.engine.settings.parallel < 8
    assert "parallel 8 needs" in caplog.text and "--parallel" not in caplog.text


@pytest.mark.slow
def test_the_memory_check_names_the_flag_on_the_command_line(room_for_one_sequence, in_tmp):
    result = run_cli(
        ["generate", str(SAMPLE), "-t", "exqa", "--model", "toy", "--limit", "1", "--max-tokens", "300"]
        + ["--parallel", "8", "--threads", "1", "-o", "out.jsonl"]
    )
    assert result.exit_code == 0, result.output
    assert "Warning: --parallel 8 needs" in result.stderr
