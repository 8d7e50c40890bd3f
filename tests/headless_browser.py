"""Headless Chromium with networking off, as the report's browser test and the README's
screenshot (scripts/screenshot_report.py) open a page: every request goes to a proxy that does
not exist and a resolver that finds no host, and the profile lives in a folder of the caller's."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# How Debian installs it (what .ci/run does).
INSTALL = "apt-get install chromium"


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; a test without it fails on CI (which installs it) and is skipped elsewhere."""
    import pytest

    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"chromium is not installed; .ci/run installs Debian's chromium package ({INSTALL})")
        pytest.skip(f"needs Debian's chromium package ({INSTALL}); .ci/run installs it")
    return found


def browse(chromium: str, page: Path, work: Path, *action: str, width: int, height: int) -> subprocess.CompletedProcess:
    """Open ``page`` with ``action`` (``--dump-dom``, ``--screenshot=PNG``) in a window of that size."""
    work.mkdir(exist_ok=True)
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={work / 'profile'}",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        *action,
        page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_CACHE_HOME": str(work)}
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=True)


def print_to_pdf(chromium: str, page: Path, pdf: Path, work: Path) -> Path:
    """``page`` printed to ``pdf`` as Chrome's "Save as PDF" does, without the date and URL
    lines it prints by default: a tagged PDF."""
    browse(chromium, page, work, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", width=800, height=1000)
    return pdf
