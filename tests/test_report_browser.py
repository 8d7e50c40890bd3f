"""The report in a real browser: headless Chromium, networking off, opens the page from file://."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report import EXAMPLES, MANIFEST, REJECTS

from bonito_lite.report_page import write_report

import headless_browser
from headless_browser import require_chromium
from record_factory import write_jsonl

WIDTH, HEIGHT = 1200, 1800


def browse(page: Path, work: Path, *action: str) -> subprocess.CompletedProcess:
    return headless_browser.browse(require_chromium(), page, work, *action, width=WIDTH, height=HEIGHT)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    output = write_jsonl(folder / "notes.bonito.jsonl", EXAMPLES)
    write_jsonl(folder / "notes.bonito.rejected.jsonl", REJECTS)
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
