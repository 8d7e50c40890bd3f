"""``bonito-lite review`` in a real terminal: tmux runs it, sends keys and captures the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from review_factory import example, sidecar_lines, write_output

from bonito_lite.review.app import MIN_HEIGHT, MIN_WIDTH

pytestmark = pytest.mark.usefixtures("in_tmp")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def session():
    assert shutil.which("tmux"), "tmux is needed for this test (.ci/run installs it)"
    name = f"bonito-review-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_review_in_tmux_shows_the_example_saves_keys_and_quits(tmp_path, session):
    output = write_output(tmp_path)
    done = tmp_path / "exit-code"
    command = f"{sys.executable} -m bonito_lite review {output}; echo $? > {done}"
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "32", command], check=True, env=env)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", session)

    first = wait_for(lambda: "Example 1 of 5" in (text := screen()) and text, "the first screen")
    assert "Question 0: when does the clinic open?" in first
    assert "a keep" in first and "x drop" in first

    tmux("send-keys", "-t", session, "a")
    wait_for(lambda: "Example 2 of 5" in screen(), "the next example")
    assert [(line["unit"], line["decision"]) for line in sidecar_lines(output)[1:]] == [(example(0)["unit"], "keep")]

    tmux("send-keys", "-t", session, "x")
    wait_for(lambda: "2 of 5 reviewed" in screen(), "the second decision")
    tmux("send-keys", "-t", session, "r")
    wait_for(lambda: "Reject 1 of 2" in screen(), "the rejects")

    tmux("send-keys", "-t", session, "q")
    wait_for(done.exists, "review to exit")
    assert done.read_text().strip() == "0"
    assert [line["decision"] for line in sidecar_lines(output)[1:]] == ["keep", "drop"]


def test_review_in_a_tiny_tmux_window_says_so(tmp_path, session):
    output = write_output(tmp_path)
    command = f"{sys.executable} -m bonito_lite review {output}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "40", "-y", "10", command],
        check=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    text = wait_for(
        lambda: "Review needs at least" in (t := tmux("capture-pane", "-p", "-t", session)) and t,
        "the too-small message",
    )
    assert "The terminal is 40×10." in text and f"{MIN_WIDTH}×{MIN_HEIGHT}" in text
