"""The review screen driven headless by Textual's own test driver: every key, the sidecar after each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from review_factory import TASKS, example, sidecar_lines, write_output

from bonito_lite.review import build_app
from bonito_lite.review.app import MIN_HEIGHT, MIN_WIDTH
from bonito_lite.review.store import ReviewStore, read_decisions

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("in_tmp")]

SIZE = (100, 40)


@pytest.fixture
def output(tmp_path):
    return write_output(tmp_path)


class Review:
    """An app over ``output`` with its store; closed by the test's ``async with``."""

    def __init__(self, output: Path, size=SIZE) -> None:
        self.output = output
        self.store = ReviewStore.open(output)
        self.app = build_app(output, self.store)
        self.size = size

    async def __aenter__(self):
        self._test = self.app.run_test(size=self.size)
        self.pilot = await self._test.__aenter__()
        await self.pilot.pause()
        return self

    async def __aexit__(self, *exc):
        await self._test.__aexit__(*exc)
        self.app.close()
        self.store.close()

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    @property
    def unit(self) -> str | None:
        return self.app.current_unit()

    def screen_text(self, widget_id: str) -> str:
        return str(self.app.main.query_one(f"#{widget_id}").render())

    def decisions(self) -> list[tuple[str, str]]:
        return [(line["unit"], line["decision"]) for line in sidecar_lines(self.output)[1:]]


def u(number: int) -> str:
    return example(number)["unit"]


async def test_first_screen_shows_the_example_its_provenance_and_the_keys(output):
    async with Review(output) as review:
        assert review.unit == u(0)
        status = review.screen_text("status")
        assert "Example 1 of 5" in status and "0 of 5 reviewed" in status
        meta = review.screen_text("meta")
        assert TASKS[0] in meta and "source notes.md" in meta and "chars 0–" in meta
        assert "Question 0: when does the clinic open?" in review.screen_text("input")
        assert "[the passage, shown below]" in review.screen_text("input")
        assert review.screen_text("output") == "7:00"
        assert "Not reviewed" in review.screen_text("decision")
        keys = review.screen_text("keys")
        for hint in (
            "a keep",
            "x drop",
            "i edit instruction",
            "o edit answer",
            "e $EDITOR",
            "space next unreviewed",
            "t task filter",
            "/ text filter",
            "r rejects",
            "q quit",
        ):
            assert hint in keys


async def test_the_answer_is_highlighted_in_the_passage(output):
    async with Review(output) as review:
        passage = review.app.main.query_one("#passage").render()
        context = example(0)["context"]
        start = context.index("7:00")
        assert any(span.start == start and span.end == start + 4 for span in passage.spans)


async def test_keep_and_drop_go_to_the_sidecar_at_once_and_move_on(output):
    async with Review(output) as review:
        await review.press("a")
        assert review.decisions() == [(u(0), "keep")]
        assert review.unit == u(1)
        await review.press("x")
        assert review.decisions() == [(u(0), "keep"), (u(1), "drop")]
        assert review.unit == u(2)
        assert "2 of 5 reviewed" in review.screen_text("status")
        await review.press("left")
        assert review.unit == u(1) and "DROPPED" in review.screen_text("decision")


async def test_arrows_back_and_next_unreviewed(output):
    async with Review(output) as review:
        await review.press("right", "right", "right")
        assert review.unit == u(3)
        await review.press("left")
        assert review.unit == u(2)
        await review.press("backspace")  # back to where we were before
        assert review.unit == u(3)
        await review.press("a")  # 3 kept, now at 4
        await review.press("a")  # 4 kept, stays at the last
        assert review.unit == u(4)
        await review.press("space")  # wraps to the first not reviewed
        assert review.unit == u(0)
        await review.press("a", "a", "a")
        await review.press("space")
        assert "reviewed" in review.app.notices[-1]


async def test_inline_edits_of_instruction_and_answer(output):
    async with Review(output) as review:
        await review.press("o")
        area = review.app.screen.query_one("#edit-text")
        area.text = "seven o'clock"
        await review.press("ctrl+s")
        last = sidecar_lines(output)[-1]
        assert (last["unit"], last["decision"], last["output"], "input" in last) == (
            u(0),
            "edit",
            "seven o'clock",
            False,
        )
        assert review.screen_text("output") == "seven o'clock"
        assert "KEPT, EDITED" in review.screen_text("decision")
        await review.press("i")
        review.app.screen.query_one("#edit-text").text = "When does it open?"
        await review.press("ctrl+s")
        last = sidecar_lines(output)[-1]
        assert (last["input"], last["output"]) == ("When does it open?", "seven o'clock")
        await review.press("i")
        review.app.screen.query_one("#edit-text").text = "thrown away"
        await review.press("escape")
        assert len(sidecar_lines(output)) == 3  # escape saved nothing
        await review.press("a")  # keeping an edited example keeps the edit
        assert read_decisions(output)[u(0)].output == "seven o'clock"
        assert read_decisions(output)[u(0)].decision == "edit"


async def test_edit_in_editor_changes_both_sides(output, tmp_path, monkeypatch):
    editor = tmp_path / "editor.py"
    editor.write_text(
        textwrap.dedent("""
        import sys
        path = sys.argv[1]
        text = open(path, encoding="utf-8").read()
        question, answer = text.split("<|pipe|>")
        open(path, "w", encoding="utf-8").write(question.replace("Question", "Q") + "<|pipe|>\\n at 7:00 sharp\\n")
    """),
        encoding="utf-8",
    )
    monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    async with Review(output) as review:
        await review.press("e")
        decision = read_decisions(output)[u(0)]
        assert decision.decision == "edit"
        assert decision.input.endswith("Q 0: when does the clinic open?")
        assert decision.output == "at 7:00 sharp"
        assert len(sidecar_lines(output)) == 2  # one key, one line
    assert not list(output.parent.glob(".review-edit-*"))  # the draft is gone


async def test_an_editor_draft_without_one_pipe_is_not_saved(output, tmp_path, monkeypatch):
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'w').write('no separator left')\n", encoding="utf-8")
    monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    async with Review(output) as review:
        await review.press("e")
        assert read_decisions(output) == {}
        assert review.app.notices[-1].startswith("Not saved")


async def test_filters_by_task_type_decision_and_text(output):
    async with Review(output) as review:
        await review.app.workers.wait_for_complete()  # the index knows which task types there are
        await review.press("t")  # the first task type: examples 0, 2, 4
        assert review.unit == u(0)
        await review.press("right")
        assert review.unit == u(2)
        await review.press("t")  # the second: 1, 3
        assert review.unit == u(3)
        await review.press("escape")
        await review.press("x")  # drop 3
        await review.press("d")  # unreviewed only
        assert review.unit == u(4)
        await review.press("left", "left")
        assert review.unit == u(1)  # 3 was skipped, 2 and 1 are not reviewed
        await review.press("d", "d", "d")  # keep, edit, drop
        assert "drop" in review.screen_text("status") and review.unit == u(3)
        await review.press("escape", "slash")
        await review.press(*"7:04", "enter")
        assert review.unit == u(4) and '"7:04"' in review.screen_text("status")
        await review.press("slash", "escape")  # cancelled: the filter stays
        assert '"7:04"' in review.screen_text("status")


async def test_rejects_view_takes_a_reject_back_and_leaves_one_rejected(output):
    async with Review(output) as review:
        await review.press("r")
        assert review.unit == u(100)
        assert "Reject 1 of 2" in review.screen_text("status")
        assert "Rejected: answer_not_in_passage" in review.screen_text("decision")
        assert "a take back" in review.screen_text("keys")
        await review.press("a")
        assert review.decisions() == [(u(100), "restore")]
        assert review.unit == u(101)
        assert "Generation: an unparsed generation 101" in review.screen_text("output")
        await review.press("a")  # a parse failure has nothing to take back yet
        assert review.decisions() == [(u(100), "restore")]
        await review.press("i")
        review.app.screen.query_one("#edit-text").text = "Written question?"
        await review.press("ctrl+s")
        assert review.decisions()[-1] == (u(101), "reject")  # half written: still rejected
        await review.press("o")
        review.app.screen.query_one("#edit-text").text = "Written answer"
        await review.press("ctrl+s")
        assert review.decisions()[-1] == (u(101), "restore")
        await review.press("x")
        assert review.decisions()[-1] == (u(101), "reject")
        await review.press("r")
        assert review.unit == u(0) and "Example" in review.screen_text("status")


async def test_a_too_small_terminal_shows_a_message_and_keys_do_nothing(output):
    async with Review(output, size=(MIN_WIDTH - 10, MIN_HEIGHT - 4)) as review:
        assert "needs at least" in review.screen_text("too-small")
        await review.press("a", "x")
        assert review.decisions() == []
        await review.pilot.resize_terminal(*SIZE)
        await review.pilot.pause()
        await review.press("a")
        assert review.decisions() == [(u(0), "keep")]


async def test_a_damaged_line_is_shown_as_such_and_skipped(tmp_path):
    output = write_output(tmp_path, examples=2)
    with open(output, "a", encoding="utf-8") as handle:
        handle.write("{not json\n" + json.dumps(example(2)) + "\n")
    async with Review(output) as review:
        # Told when the file is indexed, whether or not the reviewer comes to it.
        await review.app.workers.wait_for_complete()
        await review.pilot.pause()
        assert f"{output.name}: 1 line not a bonito-lite record, so not reviewable (line 3)." in review.app.notices
        await review.press("right", "right")
        assert "is not a bonito-lite record" in review.screen_text("decision")
        await review.press("a")
        assert review.decisions() == []
        await review.press("right")
        assert review.unit == u(2)


async def test_the_record_count_is_filled_in_by_the_background_index(tmp_path):
    output = write_output(tmp_path, examples=300)
    async with Review(output) as review:
        await review.app.workers.wait_for_complete()
        await review.pilot.pause()
        assert "Example 1 of 300 · 0 of 300 reviewed" in review.screen_text("status")


KILLED_REVIEW = """
import asyncio, os, signal, sys
from pathlib import Path
from bonito_lite.review import build_app
from bonito_lite.review.store import ReviewStore

async def main():
    output = Path(sys.argv[1])
    app = build_app(output, ReviewStore.open(output))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a", "x", "a")
        await pilot.pause()
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_killed_review_reopens_where_it_stopped(output):
    killed = subprocess.run([sys.executable, "-c", KILLED_REVIEW, str(output)], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert [(line["unit"], line["decision"]) for line in sidecar_lines(output)[1:]] == [
        (u(0), "keep"),
        (u(1), "drop"),
        (u(2), "keep"),
    ]
    async with Review(output) as review:
        assert review.unit == u(3)
        assert "3 of 5 reviewed" in review.screen_text("status") or "3 decisions" in review.screen_text("status")
        await review.press("x")
    assert {unit: d.decision for unit, d in read_decisions(output).items()} == {
        u(0): "keep",
        u(1): "drop",
        u(2): "keep",
        u(3): "drop",
    }


async def test_ctrl_c_quits_with_every_decision_saved(output):
    async with Review(output) as review:
        await review.press("a", "x")
        await review.press("ctrl+c")
        assert not review.app.is_running
    assert [line["decision"] for line in sidecar_lines(output)[1:]] == ["keep", "drop"]


async def test_quit_leaves_the_output_untouched(output):
    before = output.read_bytes()
    async with Review(output) as review:
        await review.press("a", "x", "r", "a")
        await review.press("q")
        assert not review.app.is_running
    assert output.read_bytes() == before
    assert os.stat(output).st_size == len(before)


async def test_brackets_in_records_and_filters_are_shown_as_typed(tmp_path):
    output = write_output(tmp_path, examples=1)
    record = example(0, source="[bold]notes[/].md", output="[red]7:00")
    output.write_text(json.dumps(record) + "\n", encoding="utf-8")
    async with Review(output) as review:
        assert "source [bold]notes[/].md" in review.screen_text("meta")
        assert review.screen_text("output") == "[red]7:00"
        await review.press("slash", *"[nothing", "enter")
        assert '"[nothing"' in review.screen_text("status")
        assert review.app.notices[-1] == 'Nothing matches "[nothing".'


@pytest.mark.parametrize(
    "editor_code, notice",
    [
        (None, "Could not start no-such-editor-9f3 (not found)"),
        ("open(sys.argv[1], 'wb').write('Caf\\xe9 <|pipe|> x'.encode('latin-1'))", "another encoding than UTF-8"),
        ("os.unlink(sys.argv[1])", "Could not edit with"),
    ],
    ids=["missing", "latin-1", "deleted"],
)
async def test_an_editor_that_fails_is_a_notice_and_the_review_goes_on(
    output, tmp_path, monkeypatch, editor_code, notice
):
    if editor_code is None:
        monkeypatch.setenv("VISUAL", "no-such-editor-9f3 --wait")
    else:
        editor = tmp_path / "editor.py"
        editor.write_text(f"import os, sys\n{editor_code}\n", encoding="utf-8")
        monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    async with Review(output) as review:
        await review.press("e")
        assert notice in review.app.notices[-1]
        assert read_decisions(output) == {}
        await review.press("a")  # still running, keys still work
        assert review.decisions() == [(u(0), "keep")]
    assert not list(output.parent.glob(".review-edit-*"))


async def test_an_inline_edit_that_empties_a_side_is_not_saved(output):
    async with Review(output) as review:
        await review.press("o")
        review.app.screen.query_one("#edit-text").text = "   "
        await review.press("ctrl+s")
        assert read_decisions(output) == {}
        assert "cannot be empty" in review.app.notices[-1]
        await review.press("r", "o")  # nor does emptying a reject's answer take it back
        review.app.screen.query_one("#edit-text").text = ""
        await review.press("ctrl+s")
        assert read_decisions(output) == {}


async def test_the_text_filter_finds_an_edit(output):
    async with Review(output) as review:
        await review.press("o")
        review.app.screen.query_one("#edit-text").text = "EXT-O GET"
        await review.press("ctrl+s", "right")
        await review.press("slash", *"EXT-O", "enter")
        assert review.unit == u(0)


async def test_arrows_scroll_the_example_again_after_the_window_was_too_small(output):
    async with Review(output) as review:
        await review.pilot.resize_terminal(MIN_WIDTH - 10, MIN_HEIGHT - 4)
        await review.pilot.pause()
        await review.pilot.resize_terminal(*SIZE)
        await review.pilot.pause()
        assert review.app.main.focused is review.app.main.query_one("#body")
