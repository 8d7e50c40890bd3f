"""``bonito-lite review``: a person keeps, drops or fixes generated examples from the keyboard.

- ``records.py``: the output read a line at a time, indexed only as far as needed.
- ``store.py``: the sidecar of decisions (plain Python: export reads it without Textual).
- ``apply.py``: the decisions applied to the records an export writes.
- ``app.py``: the Textual screen; imported only when a review starts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError, ReviewStoppedError
from ..record import INPUT, OUTPUT, REASON, UNIT
from ..sinks import REVIEW_SUFFIX, manifest_path, rejected_path
from ..task_types import TASK_TYPES
from .records import RecordFile
from .store import ReviewStore, sidecar_path

INSTALL_EXTRA = 'pip install "bonito-lite[review]"'


def check_output(output: Path) -> None:
    """Refuse, in one line, a file that is not a bonito-lite output with something to review."""
    if output.name.endswith(REVIEW_SUFFIX):
        raise InputError(f"{output} is a review's decisions; give the output it reviews (its .jsonl).")
    records = RecordFile(output)
    try:
        record = records.record(0) if records.has(0) else None
        empty = not records.has(0)
        if not empty:
            raw = records.raw(0)
    finally:
        records.close()
    if not empty:
        if record is None:
            hint = "is not UTF-8 JSON" if not _is_json(raw) else "is not a JSON object"
            raise InputError(f"{output} line 1 {hint}; review reads the .jsonl that generate wrote.")
        if REASON in record and UNIT in record:
            raise InputError(
                f"{output} is a rejects file; review the examples file beside it (its rejects "
                "are shown with the r key)."
            )
        if not (
            isinstance(record.get(INPUT), str)
            and isinstance(record.get(OUTPUT), str)
            and isinstance(record.get(UNIT), str)
        ):
            raise InputError(
                f"{output} line 1 is not a bonito-lite example (input, output and unit); review "
                "reads the .jsonl that generate wrote."
            )
    elif not rejected_path(output).exists() or rejected_path(output).stat().st_size == 0:
        raise InputError(f"{output} holds no examples and no rejects; nothing to review.")


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def task_types_of(output: Path) -> list[str]:
    """The task types the filter cycles through: those the manifest names, else all 16."""
    try:
        names = json.loads(manifest_path(output).read_text(encoding="utf-8")).get("task_types")
    except (OSError, ValueError, AttributeError):
        names = None
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return names
    return [task.full_name for task in TASK_TYPES]


def build_app(output: Path, store: ReviewStore):
    """The Textual app over ``output`` and its rejects, deciding into ``store``."""
    from .app import ReviewApp

    rejects = rejected_path(output)
    return ReviewApp(
        store,
        RecordFile(output),
        RecordFile(rejects) if rejects.exists() else None,
        task_types_of(output),
    )


def missing_extra() -> str | None:
    try:
        import textual  # noqa: F401
    except ImportError:
        return f"review needs the review extra: {INSTALL_EXTRA}"
    return None


def run_review(output: Path) -> ReviewStore:
    """Check everything a review needs, then run it in this terminal; return its store, closed."""
    check_output(output)
    hint = missing_extra()
    if hint is not None:
        raise InputError(hint)
    ReviewStore.check(output)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("review runs in a terminal; start it without redirecting its input or output.")
    store = ReviewStore.open(output)
    app = build_app(output, store)
    try:
        app.run()
    finally:
        app.close()
        store.close()
    if app.return_code:
        # The screen stopped on an error it showed (decisions up to it are saved).
        raise ReviewStoppedError(
            f"review stopped on an error; the decisions made before it are saved in {store.sidecar}."
        )
    return store


__all__ = ["ReviewStore", "build_app", "check_output", "run_review", "sidecar_path"]
