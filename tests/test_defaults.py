"""The CLI, the run's options and the Python API start from the same sampling and run defaults."""

import dataclasses
import inspect

from bonito_lite.api import Bonito, SamplingParams
from bonito_lite.cli import generate_command
from bonito_lite.engines.generation import EngineSettings
from bonito_lite.run import GenerateOptions


def _cli_default(param):
    # Click 8.3 marks an option without a default as UNSET, which reaches the command as None
    # (or () for a repeatable option).
    default = param.default
    if type(default).__name__ == "Sentinel":
        return () if param.multiple else None
    return default


CLI = {param.name: _cli_default(param) for param in generate_command.params}
OPTIONS = {f.name: f.default for f in dataclasses.fields(GenerateOptions) if f.default is not dataclasses.MISSING}
ENGINE = {f.name: f.default for f in dataclasses.fields(EngineSettings) if f.default is not dataclasses.MISSING}


def test_the_cli_defaults_are_the_run_options_defaults():
    shared = {
        "num_samples",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "top_k",
        "min_p",
        "repetition_penalty",
        "chunk_tokens",
        "context_col",
        "limit",
        "backend",
        "quality_filters",
        "dedup_threshold",
        "url",
    }
    assert {name: CLI[name] for name in shared} == {name: OPTIONS[name] for name in shared}
    assert tuple(CLI["stop"]) == OPTIONS["stop"]


def test_the_api_samples_with_the_cli_defaults():
    api = SamplingParams()
    for name in ("temperature", "top_p", "max_tokens", "min_p", "repetition_penalty"):
        assert getattr(api, name) == CLI[name], name
    # Top-k off is spelt as vLLM spells it in the API (-1) and 0 on the command line.
    assert api.top_k == -1 and CLI["top_k"] == 0


def test_the_api_and_the_cli_choose_the_same_engine_defaults():
    api = inspect.signature(Bonito.__init__).parameters
    for name in ("threads", "n_gpu_layers", "cpu_repack", "constrain"):
        assert api[name].default == CLI[name] or api[name].default is None and CLI[name] is None, name
    assert api["cpu_repack"].default == ENGINE["cpu_repack"]
    assert CLI["parallel"] in (None, ENGINE["parallel"])
