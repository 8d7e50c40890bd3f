"""Every error bonito-lite raises on purpose.

The library raises these; the CLI turns them into one-line messages and exit codes
(2: bad usage or input, 1: failed while running). Anything else is a bug and keeps
its traceback under ``--debug``.
"""


class BonitoLiteError(Exception):
    """A failure the user can act on; ``str(error)`` is the one-line message."""

    exit_code = 1


class InputError(BonitoLiteError):
    """Bad usage or bad input: a path, a value, a file the user gave us."""

    exit_code = 2


class SettingError(InputError, ValueError):
    """A setting out of its range or choices (``settings.Setting.check``).

    A ValueError too, as vLLM's own ``SamplingParams`` raises, so that callers' ``except
    ValueError`` keeps working.
    """


class SamplingError(SettingError):
    """A sampling parameter set to a value this sampler cannot honour, or of the wrong type."""


class UnknownTaskTypeError(InputError, ValueError):
    """A task type that names none of the 16; a ValueError too, as upstream Bonito raises."""


class UnreadableDocumentError(InputError):
    """One input cannot be read as text; the run skips it with a warning and goes on."""


class ModelFileError(InputError):
    """A model file that is missing, not GGUF, truncated or not a Bonito-shaped model."""


class HubRepositoryError(InputError):
    """A Hugging Face repository that does not exist, or holds no file of what was asked."""


class CheckpointError(InputError):
    """A Hugging Face checkpoint that cannot be converted (layout, architecture, weights)."""


class OutputExistsError(InputError):
    """The output exists and ``--overwrite`` was not given."""


class ResourceError(BonitoLiteError):
    """Not enough disk or memory for the work asked for."""


class NetworkError(BonitoLiteError):
    """A download was asked for and cannot happen (offline, not cached, not found)."""


class EngineError(BonitoLiteError):
    """llama.cpp refused or failed (load, context, decode, quantize)."""


class ReviewStoppedError(BonitoLiteError):
    """The review screen stopped on an error it had shown; the decisions before it are saved."""


# Enough of a library's complaint to say what it found, short enough for one terminal line.
DETAIL_CHARS = 200


def one_line(error: BaseException, *, named: bool = False) -> str:
    """What ``error`` says, for quoting inside one of our one-line messages.

    Whitespace (newlines included) is collapsed and a long text cut at ``DETAIL_CHARS``;
    an error that says nothing is named by its class. ``named`` puts the class first,
    for errors from deep inside a parser, whose text alone may be a bare key or value.
    """
    text = " ".join(str(error).split())
    name = type(error).__name__
    if not text:
        return name
    if named:
        text = f"{name}: {text}"
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


def cannot_read(path: object, error: OSError) -> str:
    """The one-line message for a file that exists but the system will not open."""
    return f"{path} cannot be read ({(error.strerror or str(error)).lower()}); check its permissions"
