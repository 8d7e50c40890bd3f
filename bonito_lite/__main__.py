"""``python -m bonito_lite`` runs the command line.

Run from a checkout by a Python that has not installed bonito-lite's dependencies (the
system's ``python3``, beside the ``.venv`` the README makes), it runs in the checkout's own
``.venv`` instead, saying so, rather than stop at the first library it lacks. Anywhere else,
or when that ``.venv`` lacks them too, the command says which library is missing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# The libraries every command may import: pyproject.toml's dependencies, by import name.
NEEDED = (
    "llama_cpp",
    "gguf",
    "huggingface_hub",
    "datasets",
    "click",
    "numpy",
    "tqdm",
    "charset_normalizer",
    "sentencepiece",
    "psutil",
)
# Set in the environment of the run handed to the checkout's .venv: it is never handed on twice.
HANDED_ON = "BONITO_LITE_CHECKOUT_VENV"


def checkout_python(root: Path) -> Path | None:
    """The Python of the checkout's ``.venv`` at ``root``, if ``root`` is a checkout that has one."""
    if not (root / "pyproject.toml").is_file():
        return None
    for python in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
        if python.is_file() and os.access(python, os.X_OK):
            return python
    return None


def _run_in_checkout_venv() -> None:
    """Hand the command to the checkout's ``.venv`` when this Python lacks a library it needs."""
    missing = next((name for name in NEEDED if importlib.util.find_spec(name) is None), None)
    if missing is None or os.environ.get(HANDED_ON):
        return
    root = Path(__file__).resolve().parent.parent
    python = checkout_python(root)
    if python is None or Path(sys.prefix).resolve() == (root / ".venv").resolve():
        return
    print(
        f"Note: this Python ({sys.executable}) lacks {missing!r}; running in the checkout's {python}.", file=sys.stderr
    )
    paths = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = {**os.environ, HANDED_ON: "1", "PYTHONPATH": os.pathsep.join(paths)}
    sys.stderr.flush()
    os.execve(python, [str(python), "-m", "bonito_lite", *sys.argv[1:]], environment)


if __name__ == "__main__":
    _run_in_checkout_venv()

    from .cli import main  # after the hand-over: this Python may lack click

    main()
