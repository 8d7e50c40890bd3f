"""Every option of a run, declared once: name, type, default, bounds or choices, help.

The ``generate`` command builds its options from these declarations (``cli.py``); the run's
options (``run.GenerateOptions``), the engines' settings (``engines.generation``) and the
Python API (``api.py``) take their defaults from them; and a declaration's :meth:`Setting.check`
is the one range or choice check its value gets, whoever the caller. The CLI and the Python
API spell a few settings differently (``--num-samples`` is vLLM's ``n``; top-k off is 0 on
the command line and vLLM's -1 in the API): a declaration holds both spellings, and
messages name a setting as the current caller spells it (:func:`called_from`).
"""

from __future__ import annotations

import contextlib
import enum
import math
import numbers
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .errors import SettingError
from .inputs.readers import table_suffixes
from .prompt import TEMPLATE_TOKENS

# Where a run generates: here through llama.cpp, or on an OpenAI-compatible server.
LLAMA_CPP = "llama.cpp"
SERVER = "server"
BACKENDS = (LLAMA_CPP, SERVER)

# llama.cpp's repacked CPU weight layouts ("extra buffer types"). auto is off: they crash on
# AMX CPUs and make records depend on ``parallel`` elsewhere (``engines.local.resolve_settings``).
CPU_REPACK_CHOICES = ("auto", "on", "off")

MODEL_ENV = "BONITO_LITE_MODEL"
BACKEND_ENV = "BONITO_LITE_BACKEND"
URL_ENV = "BONITO_LITE_URL"


class Caller(enum.Enum):
    """Who set the settings: the spelling, default and range that apply."""

    CLI = "command line"
    API = "Python API"
    # A settings object an engine checks: fields named as in Python, the API's defaults
    # and ranges unless the declaration gives the engine its own.
    ENGINE = "engine"


_caller: ContextVar[Caller | None] = ContextVar("bonito_lite_caller", default=None)


@contextlib.contextmanager
def called_from(caller: Caller) -> Iterator[None]:
    """Inside the block, messages name settings as ``caller`` spells them."""
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


def current_caller(default: Caller) -> Caller:
    """The caller of the enclosing :func:`called_from`, else ``default``.

    Outside any (the library used directly), a check of a settings object names its field,
    and advice such as "lower --parallel" names the command's flag.
    """
    return _caller.get() or default


_SAME = object()  # the API's (or the engine's) value is the CLI's (or the API's)


@dataclass(frozen=True)
class Setting:
    """One option: the CLI's and the Python API's spelling, default, bounds and help."""

    name: str  # the Python API's keyword and the engines' field
    type: type  # int, float, str or bool
    default: Any  # the CLI's, and the API's unless ``api_default`` says otherwise
    help: str  # one line for --help
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False  # the minimum itself is out of range
    max_open: bool = False
    choices: tuple[str, ...] = ()
    none_means: str | None = None  # None is accepted: what it means (chosen when the run starts)
    meaning: str = ""  # said after the range in errors, e.g. "0 means greedy"
    flag: str | None = None  # the CLI's spelling, when not "--" + name with dashes
    envvar: str | None = None
    metavar: str | None = None
    multiple: bool = False  # repeatable on the command line; a tuple of values
    api_name: str | None = None  # the Python API's spelling, when not ``name``
    api_default: Any = _SAME
    api_minimum: Any = _SAME
    api_none_means: Any = _SAME
    api_meaning: Any = _SAME
    # A bare engine's value where no run or API call chose one (engines.generation).
    engine_default: Any = _SAME
    engine_minimum: Any = _SAME

    @property
    def cli_name(self) -> str:
        """The option as typed: ``--top-p`` (``--filter`` for a ``--filter/--no-filter`` switch)."""
        return (self.flag or "--" + self.name.replace("_", "-")).split("/")[0]

    def spelled(self, caller: Caller) -> str:
        return self.cli_name if caller is Caller.CLI else (self.api_name or self.name)

    def named(self, default: Caller = Caller.CLI) -> str:
        """The setting as the current caller spells it (for advice: "lower --parallel")."""
        return self.spelled(current_caller(default))

    @staticmethod
    def _for(caller: Caller, cli: Any, api: Any, engine: Any = _SAME) -> Any:
        """The value that applies to ``caller``: the engine's, else the API's, else the CLI's."""
        if caller is Caller.ENGINE and engine is not _SAME:
            return engine
        return cli if caller is Caller.CLI or api is _SAME else api

    def default_for(self, caller: Caller) -> Any:
        return self._for(caller, self.default, self.api_default, self.engine_default)

    @property
    def api_value(self) -> Any:
        """The default of the Python API's argument."""
        return self.default_for(Caller.API)

    @property
    def engine_value(self) -> Any:
        """The default of the engines' field."""
        return self.default_for(Caller.ENGINE)

    def minimum_for(self, caller: Caller) -> float | None:
        return self._for(caller, self.minimum, self.api_minimum, self.engine_minimum)

    def none_means_for(self, caller: Caller) -> str | None:
        return self._for(caller, self.none_means, self.api_none_means)

    def rule(self, caller: Caller = Caller.CLI) -> str:
        """What a value must be, as errors say it: "at least 1", "in (0, 1]", "one of auto, on, off"."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.multiple:
            return "non-empty text"
        low, high = self.minimum_for(caller), self.maximum
        if low is not None and high is not None:
            rule = f"in {'(' if self.min_open else '['}{_number(low)}, {_number(high)}{')' if self.max_open else ']'}"
        elif low is not None:
            rule = f"greater than {_number(low)}" if self.min_open else f"at least {_number(low)}"
        elif high is not None:
            rule = f"less than {_number(high)}" if self.max_open else f"at most {_number(high)}"
        else:
            rule = "an integer" if self.type is int else "a number"
        meaning = self._for(caller, self.meaning, self.api_meaning)
        return rule + (f" ({meaning})" if meaning else "")

    def problem(self, value: Any, caller: Caller) -> str | None:
        """What is wrong with ``value`` ("must be in (0, 1], got 2.0"), or None when it is right."""
        if value is None and self.none_means_for(caller) is not None:
            return None
        if self.multiple:
            if value is None or not isinstance(value, (tuple, list)):
                return f"must be a list of {self.rule(caller)}, got {value!r}"
            if any(not isinstance(item, str) or not item for item in value):
                return f"must not be empty, got {value!r}"
            return None
        if self.choices:
            return None if value in self.choices else f"must be {self.rule(caller)}, got {value!r}"
        if self.type is int and not _is_integer(value):
            return f"must be an integer {self.rule(caller)}, got {value!r}"
        if self.type is float and not (_is_number(value) and math.isfinite(value)):
            return f"must be a number {self.rule(caller)}, got {value!r}"
        if self.type in (int, float) and not self._in_bounds(value, caller):
            return f"must be {self.rule(caller)}, got {value!r}"
        return None

    def check(self, value: Any, caller: Caller | None = None) -> None:
        """Raise :class:`SettingError` naming the setting as ``caller`` (else the current one) spells it."""
        caller = caller or current_caller(Caller.API)
        problem = self.problem(value, caller)
        if problem is not None:
            raise SettingError(f"{self.spelled(caller)} {problem}.")

    def _in_bounds(self, value: float, caller: Caller) -> bool:
        low, high = self.minimum_for(caller), self.maximum
        if low is not None and (value <= low if self.min_open else value < low):
            return False
        return high is None or (value < high if self.max_open else value <= high)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def passage_ctx_size(chunk_tokens: int, max_tokens: int) -> int:
    """The context one sequence needs: a prompt around a ``chunk_tokens`` passage and ``max_tokens`` more.

    ``ctx_size``'s value when the command line leaves it out, rounded up to 64 tokens. Against
    a fixed 2048, it holds about a third of the KV cache per sequence at the default sizes,
    so that three times the sequences fit in the same memory.
    """
    need = chunk_tokens + TEMPLATE_TOKENS + max_tokens
    return -(-need // 64) * 64


# -- what and how to sample --------------------------------------------------------------------

NUM_SAMPLES = Setting("num_samples", int, 1, "Examples to sample per passage and task type.", minimum=1, api_name="n")
# Bonito's own sampling defaults (upstream's README): max_tokens 256, temperature 0.5, top_p 0.95.
TEMPERATURE = Setting(
    "temperature", float, 0.5, "Divides the logits before sampling; 0 is greedy.", minimum=0, meaning="0 means greedy"
)
TOP_P = Setting(
    "top_p",
    float,
    0.95,
    "Sample among the most likely tokens whose probabilities add up to TOP_P; 1 is off.",
    minimum=0,
    maximum=1,
    min_open=True,
)
MAX_TOKENS = Setting(
    "max_tokens",
    int,
    256,
    "Most tokens generated per example.",
    minimum=1,
    api_none_means="until the end token, or until the sequence's context is full",
)
# vLLM spells top-k off as -1 (and takes 0 too); the command line as 0.
TOP_K = Setting(
    "top_k",
    int,
    0,
    "Sample among the K most likely tokens only; 0 is off.",
    minimum=0,
    meaning="0 is off",
    api_default=-1,
    api_minimum=-1,
    api_meaning="-1 and 0 are off",
    engine_default=0,
)
MIN_P = Setting(
    "min_p",
    float,
    0.0,
    "Drop tokens less likely than MIN_P times the most likely one; 0 is off.",
    minimum=0,
    maximum=1,
)
REPETITION_PENALTY = Setting(
    "repetition_penalty",
    float,
    1.0,
    "vLLM's penalty on tokens already in the prompt or the output; 1 is off.",
    minimum=0,
    min_open=True,
)
# vLLM's fields that the Python API takes and the command line has no flag for.
PRESENCE_PENALTY = Setting(
    "presence_penalty",
    float,
    0.0,
    "vLLM's penalty on tokens already in the output; 0 is off.",
    minimum=-2,
    maximum=2,
)
FREQUENCY_PENALTY = Setting(
    "frequency_penalty",
    float,
    0.0,
    "vLLM's penalty on tokens by their count in the output; 0 is off.",
    minimum=-2,
    maximum=2,
)
MIN_TOKENS = Setting("min_tokens", int, 0, "End and stop tokens cannot be drawn before this many tokens.", minimum=0)
STOP = Setting(
    "stop",
    str,
    (),
    "End a generation where TEXT appears (cut before it); repeat for several.",
    multiple=True,
    metavar="TEXT",
    api_default=None,  # vLLM's str | list[str] | None
    engine_default=(),
)
# The API's seed None draws a fresh seed per call, as vLLM's does; it takes any integer.
SEED = Setting(
    "seed",
    int,
    0,
    "Sampling seed; the same seed gives the same records.",
    minimum=0,
    api_default=None,
    api_minimum=None,
    api_none_means="a fresh seed for each call",
)

# -- which passages, which examples ------------------------------------------------------------

CHUNK_TOKENS = Setting("chunk_tokens", int, 384, "Largest passage, in tokens.", minimum=16)
CONTEXT_COL = Setting("context_col", str, "text", f"Column holding the text in {'/'.join(table_suffixes())} inputs.")
LIMIT = Setting("limit", int, None, "Stop after N passages.", minimum=1, none_means="every passage")
QUALITY_FILTERS = Setting(
    "quality_filters",
    bool,
    True,
    "Reject empty, looping, echoing, off-task and duplicate examples (see README).",
    flag="--filter/--no-filter",
)
# Jaccard similarity (of word-pair sets, estimated by MinHash) from which two examples
# count as near-duplicates. 0.8 catches rewordings of one or two words in a question and
# leaves apart questions that share a topic but ask different things.
DEDUP_THRESHOLD = Setting(
    "dedup_threshold",
    float,
    0.8,
    "Jaccard similarity from which two examples are near-duplicates.",
    meaning="the Jaccard similarity of near-duplicates",
    minimum=0,
    maximum=1,
    min_open=True,
)

# -- where and how the model runs --------------------------------------------------------------

MODEL = Setting(
    "model",
    str,
    None,
    "GGUF model file, or 'toy' for the bundled demo model (else ./models/*.gguf).",
    envvar=MODEL_ENV,
    metavar="GGUF|toy",
    api_default="toy",
)
BACKEND = Setting(
    "backend",
    str,
    LLAMA_CPP,
    "Generate here with llama.cpp, or on an OpenAI-compatible server at --url.",
    choices=BACKENDS,
    envvar=BACKEND_ENV,
)
URL = Setting(
    "url",
    str,
    None,
    "The server for --backend server (llama.cpp, llama-cpp-python, vLLM); only it is contacted.",
    envvar=URL_ENV,
    metavar="http://HOST:PORT",
)
N_GPU_LAYERS = Setting(
    "n_gpu_layers",
    int,
    None,
    "Layers to offload to the GPU; -1 is all.",
    minimum=-1,
    none_means="all when llama.cpp has Metal or CUDA, else 0",
)
THREADS = Setting("threads", int, None, "CPU threads.", minimum=1, none_means="the CPUs idle when the run starts")
CTX_SIZE = Setting(
    "ctx_size",
    int,
    None,
    "Context window per sequence, in tokens.",
    minimum=64,
    none_means="room for a --chunk-tokens passage's prompt and --max-tokens, "
    f"{passage_ctx_size(CHUNK_TOKENS.default, MAX_TOKENS.default)} at the defaults",
    api_none_means="sized for each call's rows, up to what the model was trained on",
    engine_default=2048,
    engine_minimum=16,  # tests and quant-report size a bare engine's context to a prompt
)
# 32: on a 2-core x86-64 CPU with a 1.1 B Q4_K_M model, most of 64's speed-up over a
# one-at-a-time loop for half its KV memory (BENCHMARKS.md has the measurements). GPUs
# take the same default (not measured there).
PARALLEL = Setting(
    "parallel",
    int,
    32,
    "Sequences decoded together in one batch (lowered to fit memory), or requests in flight on a server.",
    minimum=1,
)
CPU_REPACK = Setting(
    "cpu_repack",
    str,
    "auto",
    "llama.cpp's CPU weight repacking; auto turns it off where it crashes (AMX).",
    choices=CPU_REPACK_CHOICES,
)
CONSTRAIN = Setting(
    "constrain",
    bool,
    True,
    "Limit generations to 'input <|pipe|> output' with a grammar.",
    flag="--constrain/--no-constrain",
    engine_default=False,  # a bare engine samples freely; runs and the API ask for the grammar
)

# The options of ``generate``, in --help's order.
GENERATE = (
    MODEL,
    BACKEND,
    URL,
    NUM_SAMPLES,
    TEMPERATURE,
    TOP_P,
    MAX_TOKENS,
    TOP_K,
    MIN_P,
    REPETITION_PENALTY,
    STOP,
    SEED,
    N_GPU_LAYERS,
    THREADS,
    CTX_SIZE,
    PARALLEL,
    CPU_REPACK,
    CONSTRAIN,
    CHUNK_TOKENS,
    CONTEXT_COL,
    LIMIT,
    QUALITY_FILTERS,
    DEDUP_THRESHOLD,
)
# The engines' sampling fields that have a declaration (the rest are token ids and texts).
SAMPLING = (
    MAX_TOKENS,
    TEMPERATURE,
    TOP_P,
    TOP_K,
    MIN_P,
    REPETITION_PENALTY,
    PRESENCE_PENALTY,
    FREQUENCY_PENALTY,
    MIN_TOKENS,
    STOP,
)
ENGINE = (N_GPU_LAYERS, THREADS, CTX_SIZE, PARALLEL, CPU_REPACK)
