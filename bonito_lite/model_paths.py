"""Which GGUF file a run uses: an explicit path, the environment, ./models/, or the toy."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ModelFileError

TOY = "toy"
MODEL_ENV = "BONITO_LITE_MODEL"
MODELS_FOLDER = Path("models")

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def toy_model_path() -> Path:
    """The tiny Bonito bundled with the package: a demo model, not a useful one."""
    return Path(__file__).parent / "data" / "toy-bonito.gguf"


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """The GGUF a run loads: ``spec``, else $BONITO_LITE_MODEL, else the single GGUF in ./models/."""
    if spec is None:
        spec = os.environ.get(MODEL_ENV) or None
    if spec is None:
        return _single_model_in(MODELS_FOLDER)
    if str(spec) == TOY:
        return toy_model_path()
    path = Path(spec)
    if path.exists():
        return path
    if _HUB_ID.match(str(spec)) and not path.suffix == ".gguf":
        raise ModelFileError(
            f"{spec} looks like a Hugging Face model id; generation needs a local GGUF: "
            f"convert it first with 'bonito-lite convert {spec}', then pass the .gguf file."
        )
    raise ModelFileError(f"model file {path} does not exist.")


def _single_model_in(folder: Path) -> Path:
    found = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(p.name for p in found)
        raise ModelFileError(f"several models in {folder}/ ({names}); choose one with --model.")
    raise ModelFileError(
        "no model given and none found in ./models/: convert bonito-v1 with "
        "'bonito-lite convert BatsResearch/bonito-v1' (needs the network once), "
        "or pass --model toy to run the bundled demo model."
    )
