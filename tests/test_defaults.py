"""The CLI, the run's options, the Python API and the engines take defaults and ranges from one place.

Each option of ``generate`` is declared once in ``bonito_lite.settings``; these tests hold
every caller to its declaration: the default it starts from, the first value out of range it
refuses (naming the option as that caller spells it), and the help the CLI shows.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import click
import pytest
from datasets import Dataset

from bonito_lite import settings
from bonito_lite.api import Bonito, SamplingParams
from bonito_lite.cli import generate_command
from bonito_lite.engines.generation import EngineSettings, Sampling
from bonito_lite.run import GenerateOptions
from bonito_lite.settings import GENERATE, SAMPLING, Caller, Setting

from cli_helpers import assert_one_line_error, run_cli

OPTIONS = {param.name: param for param in generate_command.params}
RUN_FIELDS = {f.name: f for f in dataclasses.fields(GenerateOptions)}
ENGINE_FIELDS = {f.name: f for f in dataclasses.fields(EngineSettings)}
SAMPLING_FIELDS = {f.name: f for f in dataclasses.fields(Sampling)}
API_SAMPLING_FIELDS = {f.name: f for f in dataclasses.fields(SamplingParams)}
API_ENGINE = inspect.signature(Bonito.__init__).parameters
API_CALL = inspect.signature(Bonito.generate_tasks).parameters
# Every declared setting: those the command line has, and the Python API's own.
DECLARED = [value for value in vars(settings).values() if isinstance(value, Setting)]
NUMBERS = [s for s in DECLARED if s.type in (int, float) and s.minimum is not None]


def _id(setting: Setting) -> str:
    return setting.name


def _cli_default(param: click.Parameter):
    # Click 8.3 marks an option without a default as UNSET, which reaches the command as None
    # (or () for a repeatable option).
    default = param.default
    if type(default).__name__ == "Sentinel":
        return () if param.multiple else None
    return default


def _out_of_range(setting: Setting, caller: Caller) -> float:
    """The first value past the lower bound: the bound itself when it is open."""
    low = setting.minimum_for(caller)
    if setting.min_open:
        return low
    return low - 1 if setting.type is int else low - 0.5


def _at_bound(setting: Setting, caller: Caller) -> float:
    low = setting.minimum_for(caller)
    return low + 1 if setting.min_open else low


# -- defaults ------------------------------------------------------------------------------------


def test_every_declared_generate_setting_is_an_option_with_its_default_and_env_var():
    for setting in GENERATE:
        option = OPTIONS[setting.name]
        assert setting.cli_name in option.opts, setting.name
        assert _cli_default(option) == setting.default, setting.name
        assert option.envvar == setting.envvar, setting.name
        assert option.multiple == setting.multiple, setting.name


def test_the_run_options_default_to_the_declarations():
    for setting in GENERATE:
        if setting.name in RUN_FIELDS:
            assert RUN_FIELDS[setting.name].default == setting.default, setting.name
        else:  # an engine setting, carried in the run's EngineSettings
            assert ENGINE_FIELDS[setting.name].default == setting.engine_value, setting.name


def test_the_engines_default_to_the_declarations():
    for name, field in ENGINE_FIELDS.items():
        if name != "verbose":
            assert field.default == getattr(settings, name.upper()).engine_value, name
    for setting in SAMPLING:
        assert SAMPLING_FIELDS[setting.name].default == setting.engine_value, setting.name


def _api_defaults(name: str) -> list:
    """The defaults of the API's arguments called ``name``: SamplingParams, Bonito(), generate_tasks."""
    found = []
    if name in API_SAMPLING_FIELDS:
        found.append(API_SAMPLING_FIELDS[name].default)
    for parameters in (API_ENGINE, API_CALL):
        if name in parameters and parameters[name].default is not inspect.Parameter.empty:
            found.append(parameters[name].default)
    return found


def test_the_api_defaults_to_the_declarations_as_it_spells_them():
    taken = set()
    for setting in DECLARED:
        for default in _api_defaults(setting.spelled(Caller.API)):
            assert default == setting.api_value, setting.name
            taken.add(setting)
    assert taken >= {*SAMPLING, *settings.ENGINE, settings.MODEL, settings.URL, settings.CONSTRAIN}
    assert taken >= {settings.NUM_SAMPLES, settings.SEED, settings.QUALITY_FILTERS, settings.DEDUP_THRESHOLD}
    # Where the spellings differ, both are kept: top-k off is 0 on the command line and
    # vLLM's -1 in the API; the API's seed None draws a fresh one; vLLM's n is --num-samples.
    assert SamplingParams().top_k == -1 and OPTIONS["top_k"].default == 0
    assert SamplingParams().seed is None and OPTIONS["seed"].default == 0
    assert SamplingParams().n == OPTIONS["num_samples"].default


def test_the_cli_sizes_the_context_as_its_help_says():
    option = OPTIONS["ctx_size"]
    expected = settings.passage_ctx_size(settings.CHUNK_TOKENS.default, settings.MAX_TOKENS.default)
    assert f"{expected} at the defaults" in option.show_default


# -- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [s for s in NUMBERS if s in GENERATE], ids=_id)
def test_the_cli_refuses_the_first_value_past_a_declared_bound_naming_the_flag(setting):
    value = _out_of_range(setting, Caller.CLI)
    result = run_cli(["generate", "notes.txt", "-t", "exqa", setting.cli_name, str(value)])
    assert_one_line_error(result, 2, setting.cli_name, setting.rule(Caller.CLI))


@pytest.mark.parametrize("setting", [s for s in NUMBERS if s in GENERATE], ids=_id)
def test_the_cli_takes_the_bound_itself(setting):
    option = OPTIONS[setting.name]
    value = _at_bound(setting, Caller.CLI)
    with click.Context(generate_command) as ctx:
        assert option.type_cast_value(ctx, str(value)) == value


def test_the_cli_refuses_what_its_declaration_refuses_beyond_bounds():
    for args, flag in [
        (["--temperature", "nan"], "--temperature"),
        (["--top-p", "1.5"], "--top-p"),
        (["--stop", ""], "--stop"),
        (["--cpu-repack", "sometimes"], "--cpu-repack"),
        (["--backend", "vllm"], "--backend"),
    ]:
        assert_one_line_error(run_cli(["generate", "notes.txt", "-t", "exqa", *args]), 2, flag)


def test_choices_come_from_the_constants_that_define_them():
    assert OPTIONS["cpu_repack"].type.choices == settings.CPU_REPACK_CHOICES
    assert OPTIONS["backend"].type.choices == settings.BACKENDS


def _api_refuses(setting: Setting, value) -> str:
    """The ValueError the Python API raises for ``value``, from whichever call takes the setting."""
    name = setting.spelled(Caller.API)
    with pytest.raises(ValueError) as raised:
        if name in API_SAMPLING_FIELDS:
            SamplingParams(**{name: value})
        else:
            Bonito("toy", **{name: value})
    return str(raised.value)


API_NUMBERS = [s for s in NUMBERS if s.spelled(Caller.API) in API_SAMPLING_FIELDS or s.name in API_ENGINE]


@pytest.mark.parametrize("setting", [s for s in API_NUMBERS if s.minimum_for(Caller.API) is not None], ids=_id)
def test_the_api_refuses_the_first_value_past_a_declared_bound_naming_the_argument(setting):
    message = _api_refuses(setting, _out_of_range(setting, Caller.API))
    assert message.startswith(setting.spelled(Caller.API) + " ") and "--" not in message
    assert setting.rule(Caller.API) in message


def test_the_api_takes_top_k_as_vllm_spells_it_and_the_cli_does_not():
    assert SamplingParams(top_k=-1).top_k == -1
    assert "top_k" in _api_refuses(settings.TOP_K, -2)
    assert_one_line_error(run_cli(["generate", "notes.txt", "-t", "exqa", "--top-k", "-1"]), 2, "--top-k")


def test_the_api_refuses_a_choice_outside_the_declared_ones_naming_the_argument():
    assert _api_refuses(settings.CPU_REPACK, "sometimes").startswith("cpu_repack must be one of auto, on, off")


def test_the_api_refuses_a_dedup_threshold_past_its_bound_naming_the_argument(bonito):
    rows = Dataset.from_dict({"text": ["The clinic opens at 7:30 on weekdays."]})
    with pytest.raises(ValueError, match=r"^dedup_threshold must be in \(0, 1\]"):
        bonito.generate_tasks(rows, "text", "exqa", dedup_threshold=0)


@pytest.mark.parametrize("setting", [s for s in NUMBERS if s in settings.ENGINE], ids=_id)
def test_the_engine_settings_refuse_the_first_value_past_a_declared_bound(setting):
    bad = EngineSettings(**{setting.name: _out_of_range(setting, Caller.ENGINE)})
    with pytest.raises(ValueError, match=f"^{setting.name} "):
        bad.check()


@pytest.mark.parametrize("setting", [s for s in SAMPLING if s.minimum is not None], ids=_id)
def test_the_engine_sampling_refuses_the_first_value_past_a_declared_bound(setting):
    with pytest.raises(ValueError, match=f"^{setting.name} "):
        Sampling(**{setting.name: _out_of_range(setting, Caller.ENGINE)}).check()
    if setting.maximum is not None:
        with pytest.raises(ValueError, match=f"^{setting.name} "):
            Sampling(**{setting.name: setting.maximum + 1}).check()


def test_numbers_that_are_not_finite_are_refused_by_every_caller():
    for setting in [s for s in DECLARED if s.type is float]:
        for caller in Caller:
            with pytest.raises(ValueError, match="must be a number"):
                setting.check(math.nan, caller)


# -- help ----------------------------------------------------------------------------------------


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    "command, declared",
    [("generate", GENERATE), ("quant-report", (settings.THREADS, settings.N_GPU_LAYERS))],
)
def test_help_shows_every_declared_option_with_its_help_and_default(command, declared):
    result = run_cli([command, "--help"])
    assert result.exit_code == 0
    shown = _flat(result.output)
    for setting in declared:
        assert setting.cli_name in result.output, setting.name
        assert _flat(setting.help) in shown, setting.name
        if setting.none_means:
            assert _flat(setting.none_means) in shown, setting.name
