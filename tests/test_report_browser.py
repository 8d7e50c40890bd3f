"""The report in a real browser: headless Chromium, networking off, opens the page from file://."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report import EXAMPLES, MANIFEST, REJECTS, write_lines

from bonito_lite.report_page import write_report

WIDTH, HEIGHT = 1200, 1800


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("needs Debian's chromium package (apt-get install chromium); .ci/run installs it")
    return found


def browse(page: Path, work: Path, *action: str) -> subprocess.CompletedProcess:
    """Chromium, headless, with every network request sent nowhere: a proxy that does not exist
    and a resolver that finds no host."""
    work.mkdir(exist_ok=True)
    command = [
        chromium(),
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
        f"--window-size={WIDTH},{HEIGHT}",
        *action,
        page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_CACHE_HOME": str(work)}
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    output = write_lines(folder / "notes.bonito.jsonl", EXAMPLES)
    write_lines(folder / "notes.bonito.rejected.jsonl", REJECTS)
    (folder / "notes.bonito.jsonl.manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    return write_report(output).path


def test_the_rendered_page_holds_the_counts(page, tmp_path):
    dom = browse(page, tmp_path, "--dump-dom").stdout
    assert re.search(r'id="examples">\s*4\s*<', dom)
    assert re.search(r'id="rejected">\s*4\s*<', dom)
    assert re.search(r'id="passages">\s*5\s*<', dom)
    assert re.search(r'id="status">\s*complete\s*<', dom)
    assert dom.count("<svg") == 4 and "extractive question answering" in dom


def test_a_screenshot_of_the_page_is_not_blank(page, tmp_path):
    from PIL import Image, ImageStat

    shot = tmp_path / "page.png"
    browse(page, tmp_path, f"--screenshot={shot}")
    image = Image.open(shot)
    assert image.size == (WIDTH, HEIGHT)
    gray = image.convert("L")
    assert ImageStat.Stat(gray).var[0] > 100  # text, tables and charts, not one flat colour
    # Charts and badges are in colour: many pixels are neither white nor grey.
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    coloured = int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())
    assert coloured > 5000
