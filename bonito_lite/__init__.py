"""bonito-lite: Bonito conditional task generation on llama.cpp, offline."""

__version__ = "0.1.0"

__all__ = ["AbstractBonito", "Bonito", "SHORTFORM_TO_FULL_TASK_TYPES", "SamplingParams", "__version__"]


def __getattr__(name: str):
    # Imported on first use: the API pulls in datasets and llama.cpp, which the CLI's
    # --help and the error paths should not wait for.
    if name in ("Bonito", "SamplingParams"):
        from . import api

        return getattr(api, name)
    if name == "AbstractBonito":
        from .abstract import AbstractBonito

        return AbstractBonito
    if name == "SHORTFORM_TO_FULL_TASK_TYPES":
        from .task_types import SHORTFORM_TO_FULL_TASK_TYPES

        return SHORTFORM_TO_FULL_TASK_TYPES
    raise AttributeError(f"module 'bonito_lite' has no attribute {name!r}")
