"""Where records go: JSONL files appended and flushed line by line, stdout, manifests.

JSONL is the working format: one JSON object per line, written as soon as it exists, so a
stopped run loses nothing it finished and a rerun can resume after the last whole line.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import InputError, OutputExistsError, ResourceError

# What generate adds to its first input's name for the default output (notes.md → notes.bonito.jsonl).
OUTPUT_SUFFIX = ".bonito.jsonl"
MANIFEST_SUFFIX = ".manifest.json"


# What the rejects file's name ends with: generations that are not examples.
REJECTED_SUFFIX = ".rejected.jsonl"
# The review's decisions and the report, named after the output they describe.
REVIEW_SUFFIX = ".review.jsonl"
REPORT_SUFFIX = ".report.html"


def rejected_path(output: Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.rejected.jsonl``."""
    return output.with_name(_stem_without_jsonl(output) + REJECTED_SUFFIX)


def is_rejected_path(path: Path) -> bool:
    """Whether ``path`` is named as a rejects file (``*.rejected.jsonl``)."""
    return path.name.endswith(REJECTED_SUFFIX)


def manifest_path(output: Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.jsonl.manifest.json``."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


def sibling_path(output: Path, suffix: str) -> Path:
    """``notes.bonito.jsonl`` + ``.parquet`` → ``notes.bonito.parquet``: a file named after the output."""
    return output.with_name(_stem_without_jsonl(output) + suffix)


def _stem_without_jsonl(path: Path) -> str:
    return path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.name


def review_path(output: Path) -> Path:
    """``notes.bonito.jsonl`` → ``notes.bonito.review.jsonl``: its review's decisions."""
    return sibling_path(output, REVIEW_SUFFIX)


def check_output_folder(output: Path, given: str | None = None) -> None:
    """Refuse before any work starts: an output that is a folder (or named as one, ``out/``),
    a folder we cannot write."""
    if output.is_dir() or (given is not None and given.endswith(("/", os.sep))):
        raise InputError(f"{given or output} is a folder; give -o a file name ending in .jsonl.")
    _check_writable_folder(output.parent)
    for companion in (rejected_path(output), manifest_path(output)):
        if companion.is_dir():
            raise InputError(f"{companion} is a folder, where the output's {companion.name} goes; choose another -o.")


def check_not_an_input(output: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output, or a file written beside it, that is one of the run's inputs: with
    --overwrite it would be emptied before it was read."""
    written = {
        os.path.realpath(path): what
        for path, what in (
            (output, None),
            (rejected_path(output), "rejects file"),
            (manifest_path(output), "manifest"),
        )
    }
    for given in inputs:
        if (key := os.path.realpath(given)) in written:
            what = written[key]
            named = f"{given} is an input" if what is None else f"{given} (an input) would be the output's {what}"
            raise InputError(f"{named}; choose another -o.")


def check_made_from(source: Path, target: Path, overwrite: bool, named_by_o: bool = True) -> None:
    """Refuse a file made from an output (an export, a report) before reading anything: the
    output itself or a file that goes with it, a folder that is missing or not writable, a
    file in the way without --overwrite (``named_by_o``: -o could name another)."""
    resolved = target.resolve()
    if resolved == source.resolve():
        raise InputError(f"{target} is the input; choose another -o.")
    for companion, what in (
        (rejected_path(source), "rejects file"),
        (manifest_path(source), "manifest"),
        (review_path(source), "review"),
    ):
        if resolved == companion.resolve():
            raise InputError(f"{target} is the input's {what}; choose another -o.")
    _check_writable_folder(target.parent)
    if (target.exists() or target.is_symlink()) and not overwrite:
        elsewhere = ", or -o to write elsewhere" if named_by_o else ""
        raise OutputExistsError(f"{target} exists; pass --overwrite to replace it{elsewhere}.")


def _check_writable_folder(folder: Path) -> None:
    folder = folder if str(folder) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder; choose another -o.")
    if not folder.is_dir():
        raise InputError(f"output folder {folder} does not exist; create it or choose another -o.")
    if not os.access(folder, os.W_OK):
        raise InputError(f"cannot write to {folder}; choose another -o.")


# Errors of a full disk or quota: the user can free space and resume.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


# Who may read what bonito-lite writes. Its outputs hold the documents' text (every record
# carries its passage), so every file it creates is readable by its owner only and every
# folder it creates is the owner's only, whatever the umask: on a shared machine a usual
# umask (022) would hand the text to every local account. A file that already exists keeps
# its mode (a resumed run appends to it; a replaced file takes the mode of the one it
# replaces), so a file the user chose to share stays shared.
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags | O_CREAT)``, creating the file owner-only; an existing file keeps its mode."""
    flags &= ~(os.O_CREAT | os.O_EXCL)
    for _ in range(2):
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            try:
                return os.open(path, flags)
            except FileNotFoundError:  # removed in between: create it after all
                continue
        try:
            _set_mode(fd, PRIVATE_FILE_MODE)  # a umask such as 0o277 takes owner bits too
        except BaseException:
            os.close(fd)
            raise
        return fd
    # A link to a file that does not exist (yet): created through it, owner-only under the umask.
    return os.open(path, flags | os.O_CREAT, PRIVATE_FILE_MODE)


def make_private_folder(path: Path) -> None:
    """Create the folder ``path``, owner-only whatever the umask."""
    os.mkdir(path, PRIVATE_FOLDER_MODE)
    os.chmod(path, PRIVATE_FOLDER_MODE)


def set_tree_mode(folder: Path, folder_mode: int = PRIVATE_FOLDER_MODE) -> None:
    """Give ``folder`` and every folder in it ``folder_mode``, and its files the same read and write bits.

    For folders another library wrote (``datasets``), which follows the umask.
    """
    file_mode = folder_mode & 0o666
    for root, folders, files in os.walk(folder):
        for name, mode in [(name, file_mode) for name in files] + [(name, folder_mode) for name in folders]:
            path = os.path.join(root, name)
            if not os.path.islink(path):  # a link's target is not ours to change
                os.chmod(path, mode)
    os.chmod(folder, folder_mode)


def existing_mode(path: Path) -> int | None:
    """The permission bits of the file or folder at ``path`` (not a link), or None if there is none."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return None if stat.S_ISLNK(status.st_mode) else stat.S_IMODE(status.st_mode)


def _set_mode(fd: int, mode: int) -> None:
    if hasattr(os, "fchmod"):  # not on Windows, where POSIX modes do not apply
        os.fchmod(fd, mode)


class JsonlWriter:
    """Appends one JSON object per line, so each finished record is on disk as it is written.

    A file gets each line in one ``os.write`` of the whole line, straight to the kernel: a
    process killed at any moment leaves whole lines, and at most a part of the line being
    written, never buffered lines lost. A failed write (disk full) is cut back to the last
    whole line before the error is raised.
    """

    def __init__(self, stream: IO[str] | None, fd: int | None = None, path: Path | None = None) -> None:
        self._stream = stream
        self._fd = fd
        self._path = path
        self._size = os.fstat(fd).st_size if fd is not None else 0
        self.count = 0

    @classmethod
    def open(cls, path: Path, overwrite: bool = False) -> JsonlWriter:
        """Open ``path`` to append (or to replace, with ``overwrite``), locked against other runs.

        A new file is owner-only; an existing one keeps its mode (see ``open_private``).
        """
        try:
            fd = open_private(path, os.O_WRONLY | os.O_APPEND)
        except OSError as error:
            raise ResourceError(f"cannot open {path} for writing ({error.strerror}); choose another -o.") from None
        try:
            _lock(fd, path)
            if overwrite:  # only once the lock is ours: never empty a file another run writes
                os.ftruncate(fd, 0)
        except BaseException:
            os.close(fd)
            raise
        return cls(None, fd=fd, path=path)

    @classmethod
    def stdout(cls) -> JsonlWriter:
        return cls(sys.stdout)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if self._fd is None:
            assert self._stream is not None
            self._stream.write(line)
            self._stream.flush()
        else:
            self._append(line.encode("utf-8"))
        self.count += 1

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        try:
            written = 0
            while written < len(data):
                written += _write(self._fd, data[written:])
        except OSError as error:
            # Leave no partial line behind: a reader, and a resumed run, see whole records.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass  # a resumed run cuts the partial line instead
            if error.errno in _NO_SPACE:
                raise ResourceError(
                    f"disk full while writing {self._path}; free some space, then rerun the same command to resume."
                ) from None
            raise ResourceError(
                f"could not write {self._path} ({error.strerror}); rerun the same command to resume."
            ) from None
        self._size += len(data)

    def sync(self) -> None:
        """Wait until what was written is on disk, not only in the kernel (a power cut keeps it)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        elif self._stream is not None:
            self._stream.flush()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(fd: int, path: Path) -> None:
    """Two runs appending to one file would each generate what the other does; refuse the second."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(
            f"another bonito-lite run is writing {path}; wait for it to finish, or choose another -o."
        ) from None
    except OSError:
        pass  # a file system without locks (some network mounts): go on unlocked


def _write(fd: int, data: bytes) -> int:
    """One ``os.write``; a seam where tests simulate a full disk."""
    return os.write(fd, data)


def temporary_name(target: Path) -> Path:
    """A hidden, unique name beside ``target``: same file system, so renaming it over is atomic."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextmanager
def replaced_file(target: Path) -> Iterator[Path]:
    """Yield a new, empty temporary file beside ``target``; rename it over ``target`` if the block completes.

    A stopped write leaves ``target`` as it was, never half written, and no copy elsewhere.
    The new file is owner-only, or has the mode of the file it replaces (see
    ``PRIVATE_FILE_MODE``); the block writes into the temporary file as it is, without
    recreating it, so that it keeps that mode.
    """
    tmp = temporary_name(target)
    mode = existing_mode(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        _set_mode(fd, PRIVATE_FILE_MODE if mode is None else mode)
    finally:
        os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write under a temporary name in the same folder, then rename: never a half-written file."""
    with replaced_file(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
