"""Download a published GGUF of Bonito from the Hugging Face Hub into ./models/, checked first.

The download is huggingface-hub's own: its cache (a second pull, or one with
``HF_HUB_OFFLINE=1``, reads the file from there), its progress bar, and its resumption of a
transfer cut mid-file (it asks for the rest with an HTTP Range request). Before the file is
placed in ./models/ it must be a Bonito: a llama-architecture GGUF of one of the shapes in
:data:`KNOWN_MODELS` whose token list is that model's tokenizer, compared by hash. A file that
is not is refused with the reason, and removed from the cache too. A sidecar JSON beside the
model records where it came from; ``inspect`` shows it.

Only this command uses the network: the Hugging Face client is imported inside the functions
that use it, so that ``inspect`` (which reads the sidecar) never loads it.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import __version__
from ..errors import HubRepositoryError, ModelFileError, NetworkError, OutputExistsError, ResourceError, one_line
from ..progress import progress_bar
from ..sinks import temporary_name, write_json_atomically
from .convert import _DISK_MARGIN_BYTES  # the free disk kept beyond what a file needs, as convert keeps
from .hub import model_info
from .info import ModelInfo, file_sha256, file_type_names, read_model_info
from .paths import MODELS_FOLDER
from .quantize import DEFAULT_QUANT

logger = logging.getLogger(__name__)

# Beside each pulled model: models/NAME.gguf.source.json
SIDECAR_SUFFIX = ".source.json"
# The sidecar's name for the upstream model a pulled file converts: what finds it when code
# names that model by its hub id, as upstream's Bonito("BatsResearch/bonito-v1") does.
UPSTREAM_KEY = "converts"

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# Files of one model split in parts: llama.cpp's gguf-split names (NAME-00001-of-00003.gguf)
# and plain byte slices joined with cat (NAME.gguf.part1of2), as some publishers upload them.
_SPLIT_GGUF = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)
_PART_FILE = re.compile(r"\.gguf\.part\d+of\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class KnownModel:
    """A Bonito as published: its transformer shape and its tokenizer's token list, by hash."""

    name: str
    repository: str  # the upstream model this is a conversion of, as the Python API names it
    tokenizer: str  # the tokenizer's name, for messages
    block_count: int
    embedding_length: int
    feed_forward_length: int
    head_count: int
    head_count_kv: int
    vocab_size: int
    vocab_sha256: str  # info.token_list_sha256 of the tokenizer's tokens, in id order

    def shape(self) -> tuple[int, ...]:
        return (
            self.block_count,
            self.embedding_length,
            self.feed_forward_length,
            self.head_count,
            self.head_count_kv,
            self.vocab_size,
        )


def model_shape(info: ModelInfo) -> tuple[int, ...]:
    """A GGUF's shape, in the order of :meth:`KnownModel.shape`."""
    return (
        info.block_count,
        info.embedding_length,
        info.feed_forward_length,
        info.head_count,
        info.head_count_kv,
        info.vocab_size,
    )


def describe_shape(shape: Sequence[int]) -> str:
    layers, embedding, ffn, heads, kv_heads, vocab = shape
    return f"{layers} layers, embedding {embedding}, FFN {ffn}, {heads} heads, {kv_heads} KV heads, {vocab:,} tokens"


# The hashes are tests/test_pull.py's to recompute from the tokenizers themselves:
# - Mistral-7B's SentencePiece model (tokenizer.model.v1 in the mistral-common 1.3.0 wheel),
#   its 32,000 pieces in id order, as llama.cpp's converter and ours write them.
# - Llama 3.1's tiktoken BPE (llama_models/llama3/tokenizer.model in the llama-models 0.3.0
#   wheel): its 128,000 byte strings written in GPT-2's byte-to-unicode alphabet, as
#   tokenizer.json holds them and llama.cpp's converter writes them, then Llama 3.1's 256
#   special tokens (<|begin_of_text|> ... <|reserved_special_token_247|>). The wheel's own
#   tokenizer.py names two of those as Llama 3.2 does (<|step_id|>, <|image|>); Llama 3.1's
#   tokenizer_config.json, and so a conversion of BatsResearch/Llama-3.1-8B-bonito-v1,
#   has reserved tokens there.
MISTRAL_VOCAB_SHA256 = "f713915c1abcec0a1e6b4b142e71b582125664202323622f0b480d99f21a8b8f"
LLAMA_3_1_VOCAB_SHA256 = "2298d8fdac133090930354ddc2581475bf3855ebe5414ef5e6c10d60b136e477"

BONITO_V1 = KnownModel(
    name="bonito-v1 (Mistral 7B)",
    repository="BatsResearch/bonito-v1",
    tokenizer="Mistral's",
    block_count=32,
    embedding_length=4096,
    feed_forward_length=14336,
    head_count=32,
    head_count_kv=8,
    vocab_size=32000,
    vocab_sha256=MISTRAL_VOCAB_SHA256,
)
LLAMA_3_1_BONITO = KnownModel(
    name="Llama-3.1-8B-bonito-v1 (Llama 3.1 8B)",
    repository="BatsResearch/Llama-3.1-8B-bonito-v1",
    tokenizer="Llama 3.1's",
    block_count=32,
    embedding_length=4096,
    feed_forward_length=14336,
    head_count=32,
    head_count_kv=8,
    vocab_size=128256,
    vocab_sha256=LLAMA_3_1_VOCAB_SHA256,
)
KNOWN_MODELS: tuple[KnownModel, ...] = (BONITO_V1, LLAMA_3_1_BONITO)


def identify_bonito(info: ModelInfo, known: Sequence[KnownModel] | None = None) -> KnownModel:
    """The known Bonito (of ``known``, by default :data:`KNOWN_MODELS`) that ``info`` is, or a
    :class:`ModelFileError` that says why it is none."""
    known = KNOWN_MODELS if known is None else known
    shape = model_shape(info)
    same_shape = [model for model in known if model.shape() == shape]
    for model in same_shape:
        if model.vocab_sha256 == info.vocab_sha256:
            return model
    if same_shape:
        names = " or ".join(f"{m.tokenizer} tokenizer" for m in same_shape)
        raise ModelFileError(
            f"it has the shape of {same_shape[0].name} but its vocabulary is not {names} "
            f"(token list sha256 {info.vocab_sha256[:16]}...)"
        )
    raise ModelFileError(
        f"its shape ({describe_shape(shape)}) is that of no known Bonito "
        f"({'; '.join(f'{m.name}: {describe_shape(m.shape())}' for m in known)})"
    )


@dataclass(frozen=True)
class RepoFile:
    """A file in a hub repository, with what the listing says about it."""

    name: str  # relative to the repository's root, '/'-separated
    size: int | None = None
    sha256: str | None = None  # of its content, for files stored with LFS


@dataclass(frozen=True)
class RepoListing:
    repository: str
    revision: str | None  # as asked for: a branch, tag or commit; None for the default branch
    commit: str
    files: tuple[RepoFile, ...]
    from_cache: bool  # listed from the local cache (offline, or the Hub unreachable)


@dataclass(frozen=True)
class PullResult:
    """What a pull placed in ./models/ and where it came from."""

    path: Path
    sidecar: Path
    repository: str
    revision: str  # the commit
    file: str  # the name in the repository
    quant: str
    sha256: str
    size_bytes: int
    model: KnownModel
    seconds: float


def pull_model(
    repository: str,
    quant: str = DEFAULT_QUANT,
    revision: str | None = None,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
    known: Sequence[KnownModel] | None = None,
) -> PullResult:
    """Download the GGUF of type ``quant`` from the hub repository ``repository``, check it, place it.

    ``quant`` is a llama.cpp type name, matched in the repository's file names without regard
    to case (or the exact name of one of its files). ``output`` defaults to
    ``models/<file name>``. The file is downloaded into the Hugging Face cache, checked there
    (sha256 against the Hub's, then :func:`read_model_info` and :func:`identify_bonito`
    against ``known``, by default :data:`KNOWN_MODELS`) and then linked (or copied) into place
    under a temporary name and renamed; a refused file is removed from the cache and never reaches ``output``.
    """
    started = time.monotonic()
    if not _REPO_ID.match(repository):
        raise HubRepositoryError(
            f"{repository!r} is not a Hugging Face repository id; give OWNER/NAME, such as mradermacher/bonito-v1-GGUF"
        )
    if output is not None:
        _check_output(Path(output), overwrite)
    listing = list_repository(repository, revision)
    chosen = choose_file(listing, quant)
    output_path = Path(output) if output is not None else MODELS_FOLDER / PurePosixPath(chosen.name).name
    _check_output(output_path, overwrite)
    where = f"{repository}/{chosen.name}"

    check_free_disk(listing, chosen, output_path.parent)
    cached, commit = download_file(listing, chosen, progress)
    sha256 = _sha256_with_progress(cached, progress)
    if chosen.sha256 and sha256 != chosen.sha256:
        _forget(cached)
        raise NetworkError(
            f"{where} arrived damaged (sha256 {sha256[:16]}..., the Hub says {chosen.sha256[:16]}...); pull it again"
        )
    try:
        info = read_model_info(cached)
        model = identify_bonito(info, known)
    except ModelFileError as error:
        _forget(cached)
        # The file is as the Hub has it: copying or converting it again would not help.
        reason = (
            str(error)
            .replace(str(cached), "the file")
            .replace("; copy or convert it again", "; choose another --quant or repository")
        )
        raise ModelFileError(f"{where} is not a Bonito model and was not kept: {reason}") from None
    output_path.parent.mkdir(parents=True, exist_ok=True)
    _place(cached, output_path)
    result = PullResult(
        path=output_path,
        sidecar=sidecar_path(output_path),
        repository=repository,
        revision=commit,
        file=chosen.name,
        quant=info.file_type,
        sha256=sha256,
        size_bytes=output_path.stat().st_size,
        model=model,
        seconds=time.monotonic() - started,
    )
    write_json_atomically(result.sidecar, _sidecar_record(result))
    logger.info("wrote %s and %s in %.1f s", result.path, result.sidecar, result.seconds)
    return result


def _check_output(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file name ending in .gguf")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    # Before the download, not after: the folder the model goes into must be one.
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputExistsError(f"{folder} is a file, and {path} would go inside it; move it or give -o")
            break


def list_repository(repository: str, revision: str | None) -> RepoListing:
    """The repository's files at ``revision`` (default: its main branch), from the Hub.

    Offline (``HF_HUB_OFFLINE=1``), or when the Hub cannot be reached, the listing is that of
    the revision's snapshot in the local Hugging Face cache: the files pulled before.
    """
    from huggingface_hub import constants, errors as hub_errors

    if constants.HF_HUB_OFFLINE:
        return _cached_listing(repository, revision, why="HF_HUB_OFFLINE is set", offline=True)
    try:
        info = model_info(repository, revision, files_metadata=True)
    except hub_errors.GatedRepoError:
        raise HubRepositoryError(
            f"{repository} is gated on the Hub: accept its terms on its page, then log in with 'hf auth login'"
        ) from None
    except hub_errors.RepositoryNotFoundError:
        raise HubRepositoryError(
            f"{repository} is not a model repository on the Hub (or it is private: log in with 'hf auth login')"
        ) from None
    except hub_errors.RevisionNotFoundError:
        raise HubRepositoryError(f"{repository} has no revision {revision!r}; check --revision") from None
    except hub_errors.HfHubHTTPError as error:
        raise NetworkError(f"the Hub answered an error for {repository}: {one_line(error)}") from error
    except Exception as error:  # the HTTP client's own connection and timeout errors
        return _cached_listing(
            repository, revision, why=f"the Hub at {constants.ENDPOINT} cannot be reached: {one_line(error)}"
        )
    files = tuple(
        RepoFile(
            name=sibling.rfilename,
            size=sibling.lfs.size if sibling.lfs else sibling.size,
            sha256=sibling.lfs.sha256 if sibling.lfs else None,
        )
        for sibling in info.siblings or ()
    )
    return RepoListing(repository, revision, commit=info.sha, files=files, from_cache=False)


def _cached_listing(repository: str, revision: str | None, why: str, offline: bool = False) -> RepoListing:
    from huggingface_hub import errors as hub_errors, snapshot_download

    try:
        folder = Path(snapshot_download(repository, revision=revision, local_files_only=True))
    except hub_errors.LocalEntryNotFoundError as error:
        # A snapshot holding some of the repository's files (those pulled) is what is wanted here.
        partial = getattr(error, "snapshot_path", None)
        if partial is None:
            at = f" at revision {revision}" if revision else ""
            raise NetworkError(
                f"{why}, and {repository}{at} is not in the local Hugging Face cache; pull it once with a connection"
            ) from None
        folder = Path(partial)
    # Said when the Hub was meant to be asked; HF_HUB_OFFLINE=1 asks for the cache.
    logger.log(
        logging.INFO if offline else logging.WARNING,
        "%s; using the files of %s in the local Hugging Face cache",
        why,
        repository,
    )
    files = tuple(
        RepoFile(name=path.relative_to(folder).as_posix(), size=path.stat().st_size, sha256=_blob_sha256(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    )
    return RepoListing(repository, revision, commit=folder.name, files=files, from_cache=True)


def _blob_sha256(snapshot_file: Path) -> str | None:
    """The sha256 a cached LFS file must have: the cache names its blob by it (64 hex digits;
    a git file's blob is named by its 40-digit git hash, which says nothing of sha256)."""
    name = snapshot_file.resolve().name
    return name if re.fullmatch(r"[0-9a-f]{64}", name) else None


def file_quant(name: str) -> str | None:
    """The llama.cpp type a GGUF file's name says it is ("bonito-v1.Q4_K_M.gguf" -> "Q4_K_M"), if any."""
    matches = _quant_pattern().findall(PurePosixPath(name).name)
    return matches[-1].upper() if matches else None


@functools.lru_cache(maxsize=1)
def _quant_pattern() -> re.Pattern[str]:
    # Longest names first, so that Q4_K_M is not read as Q4_K; a name counts only between
    # separators, so that IQ4_NL holds no Q4 and BF16 no F16.
    names = sorted(file_type_names(), key=len, reverse=True)
    return re.compile(rf"(?<![A-Za-z0-9])({'|'.join(map(re.escape, names))})(?![A-Za-z0-9])", re.IGNORECASE)


def _is_gguf(name: str) -> bool:
    return name.lower().endswith(".gguf") or bool(_PART_FILE.search(name))


def choose_file(listing: RepoListing, quant: str) -> RepoFile:
    """The one GGUF file of type ``quant`` (or named ``quant``) in the listing; else a one-line reason."""
    ggufs = [f for f in listing.files if _is_gguf(f.name)]
    where = listing.repository + (" (in the local cache)" if listing.from_cache else "")
    exact = [f for f in ggufs if f.name == quant]
    if exact:
        return exact[0]
    if not ggufs:
        raise HubRepositoryError(
            f"{where} holds no GGUF file; if it holds a Hugging Face checkpoint, convert it with "
            f"'bonito-lite convert {listing.repository}'"
        )
    wanted = quant.strip().upper()
    matching = [f for f in ggufs if file_quant(f.name) == wanted]
    if not matching:
        available = sorted({q for f in ggufs if (q := file_quant(f.name))})
        others = f"it has {', '.join(available)}" if available else "its GGUF files name no quant type"
        raise HubRepositoryError(f"{where} has no {wanted} GGUF; {others} (choose one with --quant)")
    split = [f for f in matching if _SPLIT_GGUF.search(f.name) or _PART_FILE.search(f.name)]
    if split:
        raise HubRepositoryError(
            f"{where} has {wanted} only split in {len(split)} parts ({', '.join(f.name for f in split)}); "
            "pull takes single-file GGUFs: choose another --quant, or download the parts and join them "
            "(llama-gguf-split --merge, or cat for .partNofM files) and pass the file with --model"
        )
    if len(matching) > 1:
        raise HubRepositoryError(
            f"{where} has {len(matching)} {wanted} files ({', '.join(f.name for f in matching)}); "
            "name one with --quant FILE"
        )
    return matching[0]


def check_free_disk(listing: RepoListing, chosen: RepoFile, destination: Path) -> None:
    """Refuse before downloading when the file cannot fit: in the Hugging Face cache (unless it
    is there already), and in ``destination`` too when that is another file system (a copy)."""
    from huggingface_hub import constants, try_to_load_from_cache

    if chosen.size is None:
        return
    cache = _existing_folder(Path(constants.HF_HUB_CACHE))
    target = _existing_folder(destination)
    needed: dict[Path, int] = {}
    if not isinstance(try_to_load_from_cache(listing.repository, chosen.name, revision=listing.commit), str):
        needed[cache] = chosen.size
    if target.stat().st_dev != cache.stat().st_dev:
        needed[target] = chosen.size
    for folder, size in needed.items():
        free = shutil.disk_usage(folder).free
        if free < size + _DISK_MARGIN_BYTES:
            raise ResourceError(
                f"not enough free disk in {folder} for {chosen.name}: it needs {size / 1e9:.1f} GB, "
                f"{free / 1e9:.1f} GB are free; free some space (or set HF_HUB_CACHE, or choose -o elsewhere)"
            )


def _existing_folder(path: Path) -> Path:
    """``path``, or its nearest parent that exists (a folder not made yet lands on its parent's disk)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def download_file(listing: RepoListing, chosen: RepoFile, progress: bool) -> tuple[Path, str]:
    """The file in the Hugging Face cache (downloaded, resuming a cut transfer, or found there)
    and the commit it belongs to."""
    from huggingface_hub import errors as hub_errors, hf_hub_download
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    where = f"{listing.repository}/{chosen.name}"
    was_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        # By the name asked for, so that the cache learns which commit it names (offline pulls
        # find the file by it); a listing from the cache knows its commit already.
        revision = listing.commit if listing.from_cache else listing.revision
        cached = Path(hf_hub_download(listing.repository, chosen.name, revision=revision))
    except hub_errors.LocalEntryNotFoundError:
        raise NetworkError(
            f"{where} is not in the local Hugging Face cache and the Hub cannot be reached; pull it with a connection"
        ) from None
    except (hub_errors.HfHubHTTPError, OSError) as error:
        raise NetworkError(f"downloading {where} failed: {one_line(error)}; run the same pull again") from error
    except Exception as error:  # the HTTP client's own errors, after its retries
        raise NetworkError(
            f"downloading {where} failed: {one_line(error, named=True)}; run the same pull again"
        ) from error
    finally:
        if not progress and not was_disabled:
            enable_progress_bars()
    # The cache keeps each commit's files under snapshots/<commit>/<name in the repository>.
    snapshot = cached.parents[len(PurePosixPath(chosen.name).parts) - 1]
    return cached, snapshot.name if snapshot.parent.name == "snapshots" else listing.commit


def _forget(cached: Path) -> None:
    """Remove a refused download from the Hugging Face cache: its snapshot entry and its blob.

    A refused file is of no use to anyone, and at 4 GB or more it should not stay hidden in
    the cache.
    """
    blob = cached.resolve()
    cached.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)


def _sha256_with_progress(path: Path, progress: bool) -> str:
    size = path.stat().st_size
    with progress_bar(desc="Checking sha256", unit="B", unit_scale=True, total=size, enabled=progress) as bar:
        return file_sha256(path, on_chunk=bar.update)


def _place(cached: Path, destination: Path) -> None:
    """Put the cached file at ``destination``: a hard link where the file system allows, else a copy.

    A link costs no disk (4 GB and more) and survives the cache being cleared; either way the
    file appears under a temporary name and is renamed, so ``destination`` is never partial.
    """
    blob = cached.resolve()
    tmp = temporary_name(destination)
    try:
        try:
            os.link(blob, tmp)
        except OSError:  # another file system (checked for room before the download)
            shutil.copyfile(blob, tmp)
        os.replace(tmp, destination)
        # Renaming a link onto another link of the same file does nothing (POSIX), and would
        # leave the temporary name holding the whole file after both were deleted.
        tmp.unlink(missing_ok=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sidecar_path(model: Path) -> Path:
    """Where the record of a pulled model lives: beside it, NAME.gguf.source.json."""
    return model.with_name(model.name + SIDECAR_SUFFIX)


def _sidecar_record(result: PullResult) -> dict[str, Any]:
    return {
        "repository": result.repository,
        "revision": result.revision,
        "file": result.file,
        "quant": result.quant,
        "sha256": result.sha256,
        "size_bytes": result.size_bytes,
        "model": result.model.name,
        UPSTREAM_KEY: result.model.repository,
        "pulled_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "bonito_lite_version": __version__,
    }


def read_pull_record(model: os.PathLike | str) -> dict[str, Any] | None:
    """The sidecar record of a pulled model, or None when it has none (or an unreadable one)."""
    path = sidecar_path(Path(model))
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
