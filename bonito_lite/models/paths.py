"""Which GGUF file a run uses: an explicit path, the environment, ./models/, or the toy."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from ..errors import ModelFileError
from ..settings import MODEL_ENV
from .info import read_model_info

log = logging.getLogger(__name__)

TOY = "toy"
MODELS_FOLDER = Path("models")
# The package's bundled files (bonito_lite/data): the toy model and sample passages.
PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def toy_model_path() -> Path:
    """The tiny Bonito bundled with the package: a demo model, not a useful one."""
    return PACKAGE_DATA / "toy-bonito.gguf"


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """The GGUF a run loads: ``spec``, else $BONITO_LITE_MODEL, else the single GGUF in ./models/.

    The file is checked with :func:`read_model_info` before it is returned, so that a folder,
    a file that is not GGUF, a truncated one or one without a tokenizer is refused (with a
    one-line :class:`ModelFileError`) before a run hashes, loads or writes anything.
    """
    return _checked(_find_model(spec))


def _checked(path: Path) -> Path:
    read_model_info(path)  # cached by path, size and mtime: later reads cost nothing
    return path


def _find_model(spec: str | os.PathLike | None) -> Path:
    # The CLI's --model reads the variable too, so a value equal to it came from there.
    from_environment = bool(os.environ.get(MODEL_ENV)) and (spec is None or str(spec) == os.environ[MODEL_ENV])
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
        return _converted_from(str(spec), MODELS_FOLDER)
    where = f" (from ${MODEL_ENV})" if from_environment else ""
    raise ModelFileError(
        f"model file {path}{where} does not exist; give a .gguf file, 'toy', or a converted model's hub id."
    )


def _converted_from(repository: str, folder: Path) -> Path:
    """A GGUF in ``folder`` converted from the hub id ``repository`` (as its metadata says).

    Upstream code names the model by its hub id; a GGUF ``bonito-lite convert`` made from
    it records that id in its metadata, and one ``bonito-lite pull`` fetched records it in
    its sidecar (with the repository it came from, which names it too). Of several, the one
    of the converter's default quantization is taken, else the first by name.
    """
    from .pull import UPSTREAM_KEY, read_pull_record
    from .quantize import DEFAULT_QUANT

    found = []
    for candidate in sorted(folder.glob("*.gguf")) if folder.is_dir() else []:
        pulled = read_pull_record(candidate) or {}
        if repository in (pulled.get(UPSTREAM_KEY), pulled.get("repository")):
            found.append(candidate)
            continue
        try:
            if read_model_info(candidate).source_repository == repository:
                found.append(candidate)
        except ModelFileError:
            continue
    if not found:
        raise ModelFileError(
            f"{repository} is a Hugging Face model id and no GGUF of it is in {folder}/: get one "
            f"once with 'bonito-lite pull REPO' (a published GGUF of it) or 'bonito-lite convert "
            f"{repository}' (both write into {folder}/), or pass the path of a .gguf file."
        )
    preferred = [p for p in found if p.name.upper().endswith(f".{DEFAULT_QUANT.upper()}.GGUF")]
    chosen = (preferred or found)[0]
    if len(found) > 1:
        log.info("%s: using %s of %s", repository, chosen.name, ", ".join(p.name for p in found))
    return chosen


def _single_model_in(folder: Path) -> Path:
    found = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(p.name for p in found)
        # The hint names both commands' forms: generate takes --model, inspect an argument.
        raise ModelFileError(
            f"several models in {folder}/ ({names}); choose one, e.g. "
            f"'generate --model {found[0].as_posix()}' or 'inspect {found[0].as_posix()}'."
        )
    raise ModelFileError(
        "no model given and none found in ./models/: get bonito-v1 once with "
        "'bonito-lite pull REPO' (a published GGUF) or 'bonito-lite convert BatsResearch/bonito-v1', "
        "or use the bundled demo model: 'generate --model toy', 'inspect toy'."
    )
