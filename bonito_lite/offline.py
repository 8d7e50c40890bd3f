"""Keep generation off the network: Hugging Face's offline and no-telemetry switches."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}

# Where the Hugging Face libraries keep those switches once imported: they read the
# environment at import, so a library imported before bonito-lite ignores a later change.
_IMPORTED_SWITCHES = (
    ("huggingface_hub.constants", "HF_HUB_OFFLINE"),
    ("huggingface_hub.constants", "HF_HUB_DISABLE_TELEMETRY"),
    ("datasets.config", "HF_HUB_OFFLINE"),
    ("datasets.config", "HF_DATASETS_OFFLINE"),
)


def go_offline() -> None:
    """Set the switches for this process, for good (a command's own process, which sets
    them before it imports the Hugging Face libraries)."""
    os.environ.update(OFFLINE_ENVIRONMENT)


@contextlib.contextmanager
def offline_scope() -> Iterator[None]:
    """Offline inside the block; afterwards the environment is as it was, whatever the block set.

    For the Python API, which runs in its caller's process: the switches apply to the
    libraries already imported too, and every environment variable set or changed inside
    the block (these switches, llama.cpp's kernel switch) is put back on the way out.
    """
    saved_environment = dict(os.environ)
    saved_switches = _set_imported_switches()
    os.environ.update(OFFLINE_ENVIRONMENT)
    try:
        yield
    finally:
        for module, name, value in reversed(saved_switches):
            setattr(module, name, value)
        for name in [name for name in os.environ if name not in saved_environment]:
            del os.environ[name]
        for name, value in saved_environment.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def _set_imported_switches() -> list[tuple[object, str, object]]:
    """Turn on the switches of the libraries already imported; return what they held."""
    saved = []
    for module_name, name in _IMPORTED_SWITCHES:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, name):
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, True)
    return saved
