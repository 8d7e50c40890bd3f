"""The review screen: one example at a time, decided with one key (Textual).

Textual, not curses by hand: it draws and resizes the screen, reads keys the same way in
every terminal, has a multi-line editor widget, suspends itself to run ``$EDITOR``, and
drives the whole app headless in tests (``App.run_test``), which is how every key here is
tested. Only this module imports it; the sidecar (``store.py``) is plain Python.

Keys follow annotation tools' habits where there is one: ``a`` accept (keep), ``x`` reject
(drop), arrows to move, backspace to go back, space to the next unreviewed example.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static, TextArea

from ..record import (
    CHAR_END,
    CHAR_START,
    CONTEXT,
    DETAIL,
    GENERATION,
    INPUT,
    OUTPUT,
    PASSAGE_INDEX,
    REASON,
    SAMPLE_INDEX,
    SOURCE,
    TASK_TYPE,
    UNIT,
)
from .records import RecordFile
from .store import DROP, EDIT, KEEP, REJECT, RESTORE, Decision, ReviewStore

# Below this the example cannot be read: a message instead of a cramped screen.
MIN_WIDTH = 60
MIN_HEIGHT = 16
# The separator of an example edited in $EDITOR: the one Bonito itself writes.
PIPE = "<|pipe|>"

EXAMPLES = "examples"
REJECTS = "rejects"
# What the decision filter cycles through in each view (None: every record).
_DECISION_FILTERS = {
    EXAMPLES: (None, "unreviewed", KEEP, EDIT, DROP),
    REJECTS: (None, "unreviewed", RESTORE, REJECT),
}
_DECISION_LABELS = {
    KEEP: ("KEPT", "bold green"),
    EDIT: ("KEPT, EDITED", "bold green"),
    DROP: ("DROPPED", "bold red"),
    RESTORE: ("TAKEN BACK", "bold green"),
    REJECT: ("LEFT REJECTED", "bold red"),
}


@dataclass
class View:
    """One of the two files under review, with where the reviewer is in it."""

    name: str
    records: RecordFile
    position: int = 0
    history: list[int] = field(default_factory=list)  # positions shown before, for "back"
    units: set[str] | None = None  # every unit of the file, once indexed
    task_types: list[str] | None = None  # the task types it holds, in order of appearance, once indexed


class EditScreen(ModalScreen[str | None]):
    """Edit one field inline: ctrl+s saves, escape cancels."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-box"):
            yield Static(f"Edit the {self._title}: ctrl+s saves, escape cancels", id="edit-title")
            yield TextArea(self._text, id="edit-text", soft_wrap=True)
            yield Footer()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterScreen(ModalScreen[str | None]):
    """Ask for the text to filter by: enter applies (empty clears), escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box"):
            yield Static("Show examples containing (enter applies, empty clears, escape cancels):")
            yield Input(self._current, id="filter-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewScreen(Screen[None]):
    """The review's one screen; it hears every resize (the app's own handler does not)."""

    def compose(self) -> ComposeResult:
        yield from self.app.compose_review()

    def on_mount(self) -> None:
        self.app.start()

    def on_resize(self) -> None:
        self.app.check_size()


class ReviewApp(App[None]):
    """Keep, drop or fix the examples of one output; every decision goes to the store at once."""

    TITLE = "bonito-lite review"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #status { background: $primary-background; padding: 0 1; }
    #meta { color: $text-muted; padding: 0 1; }
    #decision { padding: 0 1; }
    #body { padding: 0 1; height: 1fr; }
    #keys { background: $primary-background; padding: 0 1; height: auto; }
    .label { text-style: bold; color: $accent; margin-top: 1; }
    #too-small { display: none; content-align: center middle; height: 1fr; }
    ReviewScreen.too-small #too-small { display: block; }
    ReviewScreen.too-small #main { display: none; }
    EditScreen, FilterScreen { align: center middle; }
    #edit-box { width: 90%; height: 80%; border: round $accent; background: $surface; }
    #edit-text { height: 1fr; }
    #filter-box { width: 80%; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("a", "keep", "Keep"),
        Binding("x", "drop", "Drop"),
        Binding("i", "edit('input')", "Edit instruction"),
        Binding("o", "edit('output')", "Edit answer"),
        Binding("e", "external_edit", "$EDITOR"),
        Binding("left", "move(-1)", "Prev"),
        Binding("right", "move(1)", "Next"),
        Binding("backspace", "back", "Back"),
        Binding("space", "next_unreviewed", "Next unreviewed"),
        Binding("t", "filter_task", "Task filter"),
        Binding("d", "filter_decision", "Decision filter"),
        Binding("slash", "filter_text", "Text filter"),
        Binding("escape", "clear_filters", "Clear filters", show=False),
        Binding("r", "toggle_rejects", "Rejects"),
        Binding("q", "quit", "Quit"),
        # Textual only hints at ctrl+q on ctrl+c; in a terminal tool ctrl+c stops it.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self, store: ReviewStore, examples: RecordFile, rejects: RecordFile | None, task_types: list[str]
    ) -> None:
        super().__init__()
        self.store = store
        self.views = {EXAMPLES: View(EXAMPLES, examples)}
        if rejects is not None:
            self.views[REJECTS] = View(REJECTS, rejects)
        self.view = self.views[EXAMPLES] if examples.has(0) else self.views.get(REJECTS, self.views[EXAMPLES])
        self.task_types = task_types
        self.task_filter: str | None = None
        self.decision_filter: str | None = None
        self.text_filter = ""
        self._stop = threading.Event()
        self._small = False
        self.notices: list[str] = []  # every message shown in a toast, oldest first

    def notify(self, message: str, **options: Any) -> None:
        self.notices.append(message)
        # Messages quote what the reviewer typed: never read as markup.
        super().notify(message, markup=False, **options)

    # Layout ---------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        return ReviewScreen()

    def compose_review(self) -> ComposeResult:
        yield Static("", id="too-small")
        with Vertical(id="main"):
            yield Static("", id="status")
            yield Static("", id="meta")
            yield Static("", id="decision")
            with VerticalScroll(id="body"):
                yield Static("Instruction", classes="label", id="input-label")
                yield Static("", id="input")
                yield Static("Answer", classes="label", id="output-label")
                yield Static("", id="output")
                yield Static("Passage", classes="label")
                yield Static("", id="passage")
            yield Static("", id="keys")

    def start(self) -> None:
        """Once the screen is up: draw the first record, index the rest in the background."""
        self.check_size()
        self._resume()
        self.show()
        self._index()

    def _resume(self) -> None:
        """Reopened: continue at the first example not reviewed yet (reading units only)."""
        if not self.store.decisions:
            return
        records = self.view.records
        position = 0
        while records.has(position):
            unit = records.unit(position)
            if unit is not None and self.store.get(unit) is None:
                self.view.position = position
                return
            position += 1
        self.notify(f"Every one of the {position:,} {self.view.name} is reviewed.")

    def on_unmount(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Once the app has exited: stop the index and close the files it reads."""
        self._stop.set()
        for worker in self.workers:
            worker.cancel()
        for view in self.views.values():
            view.records.close()

    def check_size(self) -> None:
        width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self._small = small
        self.main.set_class(small, "too-small")
        if not small and self.main.focused is None:
            # Hiding the example took the keyboard focus with it; the arrows scroll it again.
            self.main.query_one("#body", VerticalScroll).focus()
        if small:
            self.main.query_one("#too-small", Static).update(
                # Short lines: the message itself must fit a small window.
                f"The terminal is {width}×{height}.\nReview needs at least\n{MIN_WIDTH}×{MIN_HEIGHT}: "
                "make it larger\n(q quits)."
            )

    @property
    def main(self) -> Screen:
        """The review screen, under any edit or filter box open on top of it."""
        return self.screen_stack[0]

    @property
    def too_small(self) -> bool:
        return self._small

    @work(thread=True, exclusive=True)
    def _index(self) -> None:
        """Count the records and collect their units in the background; the screen is up already."""
        for view in list(self.views.values()):
            count = view.records.index_all(self._stop)
            if self._stop.is_set():
                return
            units: set[str] = set()
            task_types: dict[str, None] = {}
            damaged: list[int] = []  # lines that are no record: told once, not met by chance
            for position in range(count):
                if self._stop.is_set():
                    return
                unit, task_type = view.records.unit(position), view.records.task_type(position)
                if unit is not None:
                    units.add(unit)
                else:
                    damaged.append(position + 1)
                if task_type is not None:
                    task_types[task_type] = None
            view.units, view.task_types = units, list(task_types)
            self.call_from_thread(self._show_status)
            if damaged:
                lines = "line" if len(damaged) == 1 else "lines"
                self.call_from_thread(
                    self.notify,
                    f"{view.records.path.name}: {len(damaged)} {lines} not a bonito-lite record, so not "
                    f"reviewable (line {', '.join(map(str, damaged[:5]))}{'...' if len(damaged) > 5 else ''}).",
                    severity="warning",
                )

    # What is on screen ----------------------------------------------------------------------

    def current(self) -> dict[str, Any] | None:
        if not self.view.records.has(self.view.position):
            return None
        return self.view.records.record(self.view.position)

    def current_unit(self) -> str | None:
        record = self.current()
        unit = record.get(UNIT) if record else None
        return unit if isinstance(unit, str) else None

    def show(self) -> None:
        self._show_status()
        record = self.current()
        meta = self.main.query_one("#meta", Static)
        decision_line = self.main.query_one("#decision", Static)
        widgets = {name: self.main.query_one(f"#{name}", Static) for name in ("input", "output", "passage")}
        if not self.view.records.has(self.view.position):
            meta.update("")
            decision_line.update(f"No {self.view.name} in this file.")
            for widget in widgets.values():
                widget.update("")
            return
        if record is None or not isinstance(record.get(UNIT), str):
            meta.update("")
            decision_line.update(
                Text(
                    f"Line {self.view.position + 1} of {self.view.records.path.name} is not a "
                    "bonito-lite record; it cannot be reviewed (→ moves on).",
                    style="bold red",
                )
            )
            for widget in widgets.values():
                widget.update("")
            return
        decision = self.store.get(record[UNIT])
        shown = decision.applied_to(record) if decision else record
        meta.update(Text(_meta_line(record)))  # Text: a file name is not markup
        decision_line.update(self._decision_text(record, decision))
        context = str(record.get(CONTEXT) or "")
        if isinstance(shown.get(INPUT), str):
            widgets["input"].update(_instruction_text(shown[INPUT], context))
            widgets["output"].update(Text(str(shown.get(OUTPUT, ""))))
        else:  # a generation that did not parse: no instruction, no answer
            widgets["input"].update(Text("(did not parse into an instruction and an answer)", style="italic"))
            widgets["output"].update(Text(f"Generation: {record.get(GENERATION, '')}"))
        widgets["passage"].update(_passage_text(context, str(shown.get(OUTPUT) or "")))
        self.main.query_one("#body", VerticalScroll).scroll_home(animate=False)

    def _decision_text(self, record: dict[str, Any], decision: Decision | None) -> Text:
        text = Text()
        if self.view.name == REJECTS:
            reason = record.get(REASON, "?")
            detail = record.get(DETAIL)
            text.append(f"Rejected: {reason}" + (f" ({detail})" if detail else "") + ".  ", style="yellow")
        if decision is None:
            text.append("Not reviewed", style="bold")
        else:
            label, style = _DECISION_LABELS[decision.decision]
            if decision.decision == DROP and decision.edited:
                label += " (edits kept)"
            text.append(label, style=style)
        return text

    def _show_keys(self) -> None:
        rejects = self.view.name == REJECTS
        keys = [
            ("a", "take back" if rejects else "keep"),
            ("x", "leave rejected" if rejects else "drop"),
            ("i", "edit instruction"),
            ("o", "edit answer"),
            ("e", "$EDITOR"),
            ("←/→", "prev/next"),
            ("⌫", "back"),
            ("space", "next unreviewed"),
            ("t", "task filter"),
            ("d", "decision filter"),
            ("/", "text filter"),
            ("esc", "clear filters"),
            ("r", "examples" if rejects else "rejects"),
            ("q", "quit"),
        ]
        text = Text()
        for key, what in keys:
            text.append(key, style="bold")
            text.append(f" {what}  ")
        self.main.query_one("#keys", Static).update(text)

    def _show_status(self) -> None:
        self._show_keys()
        view = self.view
        records = view.records
        total = f"{records.known:,}" if records.complete else f"{records.known:,}+"
        where = f"{view.position + 1:,} of {total}" if records.has(view.position) else f"0 of {total}"
        if view.units is not None:
            reviewed = sum(1 for unit in view.units if unit in self.store.decisions)
            progress = f"{reviewed:,} of {len(view.units):,} reviewed"
        else:
            progress = f"{len(self.store.decisions):,} decisions so far"
        label = "Example" if view.name == EXAMPLES else "Reject"
        status = f"{label} {where} · {progress} · {records.path.name}"
        filters = self._filters_text()
        if filters:
            status += f" · filter: {filters}"
        self.main.query_one("#status", Static).update(Text(status))

    def _filters_text(self) -> str:
        parts = []
        if self.task_filter:
            parts.append(self.task_filter)
        if self.decision_filter:
            parts.append(self.decision_filter)
        if self.text_filter:
            parts.append(f'"{self.text_filter}"')
        return ", ".join(parts)

    # Moving ---------------------------------------------------------------------------------

    def _matches(self, position: int) -> bool:
        records = self.view.records
        if self.decision_filter is not None:
            unit = records.unit(position)
            decision = self.store.get(unit) if unit else None
            wanted = self.decision_filter
            if wanted == "unreviewed" and decision is not None:
                return False
            if wanted != "unreviewed" and (decision is None or decision.decision != wanted):
                return False
        if self.task_filter is None and not self.text_filter:
            return True
        record = records.record(position)
        if record is None:
            return False
        if self.task_filter is not None and record.get(TASK_TYPE) != self.task_filter:
            return False
        if self.text_filter:
            # The text as shown: with its edits.
            unit = records.unit(position)
            decision = self.store.get(unit) if unit else None
            record = decision.applied_to(record) if decision else record
            needle = self.text_filter.casefold()
            fields = (record.get(k) for k in (INPUT, OUTPUT, CONTEXT, GENERATION, SOURCE))
            if not any(isinstance(v, str) and needle in v.casefold() for v in fields):
                return False
        return True

    def _find(self, start: int, step: int, wrap: bool = False) -> int | None:
        """The first position from ``start`` on (in ``step``'s direction) that passes the filters."""
        records = self.view.records
        position = start
        while position >= 0 and records.has(position):
            if self._matches(position):
                return position
            position += step
        if wrap and start > 0:
            position = 0
            while position < start and records.has(position):
                if self._matches(position):
                    return position
                position += 1
        return None

    def _go(self, position: int) -> None:
        if position != self.view.position:
            self.view.history.append(self.view.position)
        self.view.position = position
        self.show()

    def action_move(self, step: int) -> None:
        if self.too_small:
            return
        found = self._find(self.view.position + step, step)
        if found is None:
            self.notify("No more in this direction" + (" with these filters." if self._filters_text() else "."))
            return
        self._go(found)

    def action_back(self) -> None:
        if self.too_small:
            return
        if not self.view.history:
            self.notify("Nothing to go back to.")
            return
        self.view.position = self.view.history.pop()
        self.show()

    def action_next_unreviewed(self) -> None:
        if self.too_small:
            return
        records = self.view.records
        position = self.view.position + 1
        for candidate in _wrapped(position, records):
            unit = records.unit(candidate)
            if unit is not None and self.store.get(unit) is None and self._matches(candidate):
                self._go(candidate)
                return
        self.notify("Every " + ("example" if self.view.name == EXAMPLES else "reject") + " shown here is reviewed.")

    # Deciding -------------------------------------------------------------------------------

    def _decide(self, decision: str, input: str | None = None, output: str | None = None, advance: bool = True) -> None:
        unit = self.current_unit()
        if self.too_small or unit is None:
            return
        self.store.decide(unit, decision, input, output)
        self.show()
        if advance:
            found = self._find(self.view.position + 1, 1)
            if found is not None:
                self._go(found)

    def action_keep(self) -> None:
        if self.view.name == REJECTS:
            record = self.current()
            if record is not None and not isinstance(record.get(INPUT), str):
                decision = self.store.get(self.current_unit() or "")
                if decision is None or decision.input is None or decision.output is None:
                    self.notify(
                        "This generation did not parse: edit its instruction (i) and answer (o) to take it back.",
                        severity="warning",
                    )
                    return
            self._decide(RESTORE)
            return
        decision = self.store.get(self.current_unit() or "")
        self._decide(EDIT if decision is not None and decision.edited else KEEP)

    def action_drop(self) -> None:
        self._decide(REJECT if self.view.name == REJECTS else DROP)

    def _save_edit(self, **changes: str) -> None:
        """Record edited text; on a reject, an edit that leaves an instruction and an answer takes it back."""
        record, unit = self.current(), self.current_unit()
        if record is None or unit is None:
            return
        previous = self.store.get(unit)
        shown = previous.applied_to(record) if previous else record
        changes = {k: v for k, v in changes.items() if v != shown.get(k)}
        if not changes:
            self.notify("Unchanged; nothing saved.")
            return
        if any(not value.strip() for value in changes.values()):
            # An example with no instruction or no answer is not training data.
            self.notify("Not saved: the instruction and the answer cannot be empty.", severity="error")
            return
        decision = EDIT
        if self.view.name == REJECTS:
            merged = {**shown, **changes}
            complete = all(isinstance(merged.get(k), str) and merged[k].strip() for k in (INPUT, OUTPUT))
            decision = RESTORE if complete else REJECT
            if not complete:
                self.notify("Saved; write the other side too to take it back.")
        self._decide(decision, advance=False, **changes)

    def action_edit(self, field_name: str) -> None:
        if self.too_small or self.current_unit() is None:
            return
        record = self.current() or {}
        decision = self.store.get(self.current_unit() or "")
        shown = decision.applied_to(record) if decision else record
        title = "instruction" if field_name == "input" else "answer"

        def done(text: str | None) -> None:
            if text is not None:
                self._save_edit(**{field_name: text.strip()})

        self.push_screen(EditScreen(title, str(shown.get(field_name) or "")), done)

    def action_external_edit(self) -> None:
        if self.too_small or self.current_unit() is None:
            return
        record = self.current() or {}
        decision = self.store.get(self.current_unit() or "")
        shown = decision.applied_to(record) if decision else record
        draft = f"{shown.get(INPUT) or ''}\n{PIPE}\n{shown.get(OUTPUT) or ''}\n"
        edited = self._run_editor(draft)
        if edited is None:
            return
        parts = edited.split(PIPE)
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            self.notify(f"Not saved: keep the instruction, one {PIPE} line, then the answer.", severity="error")
            return
        self._save_edit(input=parts[0].strip(), output=parts[1].strip())

    def _run_editor(self, text: str) -> str | None:
        """Edit ``text`` in $VISUAL or $EDITOR; the draft stays beside the output, owner-only.

        Every way this can fail (no such editor, a folder refusing the draft, an editor that
        deletes it or saves it in another encoding) is a notice; the screen carries on.
        """
        command = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi") or ["vi"]
        # Found before the screen is handed over: a command that cannot start must not leave
        # the terminal suspended.
        if shutil.which(command[0]) is None:
            self.notify(f"Could not start {command[0]} (not found); set $EDITOR or $VISUAL.", severity="error")
            return None
        try:
            fd, name = tempfile.mkstemp(prefix=".review-edit-", suffix=".txt", dir=self.store.sidecar.parent)
        except OSError as error:
            self.notify(f"Could not write a draft beside the output ({error.strerror}).", severity="error")
            return None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            try:
                with self.suspend():
                    result = subprocess.run([*command, name], check=False)
            except SuspendNotSupported:  # headless (tests): nothing on screen to give back
                result = subprocess.run(
                    [*command, name],
                    check=False,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            if result.returncode != 0:
                self.notify(f"{command[0]} exited with {result.returncode}; nothing saved.", severity="warning")
                return None
            return Path(name).read_text(encoding="utf-8")
        except OSError as error:
            self.notify(
                f"Could not edit with {command[0]} ({error.strerror or error}); nothing saved.", severity="error"
            )
            return None
        except UnicodeDecodeError:
            self.notify(
                f"{command[0]} saved the draft in another encoding than UTF-8; nothing saved.", severity="error"
            )
            return None
        finally:
            Path(name).unlink(missing_ok=True)
            self.refresh()

    # Filters and views ----------------------------------------------------------------------

    def _refilter(self) -> None:
        """After a filter changes: stay if the example shown passes, else go to the next that does."""
        self._show_status()
        if self.view.records.has(self.view.position) and self._matches(self.view.position):
            return
        found = self._find(self.view.position, 1, wrap=True)
        if found is None:
            self.notify(f"Nothing matches {self._filters_text()}.", severity="warning")
            self.show()
            return
        self._go(found)

    def action_filter_task(self) -> None:
        # The types this file holds once indexed; until then those the run asked for.
        present = self.view.task_types if self.view.task_types is not None else self.task_types
        if self.too_small or not present:
            return
        cycle = [None, *present]
        if self.task_filter not in cycle:
            self.task_filter = None
        self.task_filter = cycle[(cycle.index(self.task_filter) + 1) % len(cycle)]
        self._refilter()

    def action_filter_decision(self) -> None:
        if self.too_small:
            return
        cycle = _DECISION_FILTERS[self.view.name]
        current = self.decision_filter if self.decision_filter in cycle else None
        self.decision_filter = cycle[(cycle.index(current) + 1) % len(cycle)]
        self._refilter()

    def action_filter_text(self) -> None:
        if self.too_small:
            return

        def done(text: str | None) -> None:
            if text is not None:
                self.text_filter = text.strip()
                self._refilter()

        self.push_screen(FilterScreen(self.text_filter), done)

    def action_clear_filters(self) -> None:
        self.task_filter = self.decision_filter = None
        self.text_filter = ""
        self._show_status()

    def action_toggle_rejects(self) -> None:
        if self.too_small:
            return
        if REJECTS not in self.views:
            self.notify("This output has no rejects file.")
            return
        self.view = self.views[REJECTS if self.view.name == EXAMPLES else EXAMPLES]
        if self.decision_filter not in _DECISION_FILTERS[self.view.name]:
            self.decision_filter = None
        self.show()


def _wrapped(start: int, records: RecordFile):
    """Positions from ``start`` to the end, then from the beginning back to ``start``."""
    position = start
    while records.has(position):
        yield position
        position += 1
    yield from range(0, min(start, records.known))


def _meta_line(record: dict[str, Any]) -> str:
    parts = [str(record.get(TASK_TYPE, "?")), f"source {record.get(SOURCE, '?')}"]
    if isinstance(record.get(PASSAGE_INDEX), int):
        parts.append(f"passage {record[PASSAGE_INDEX]}")
    if isinstance(record.get(CHAR_START), int) and isinstance(record.get(CHAR_END), int):
        parts.append(f"chars {record[CHAR_START]}–{record[CHAR_END]}")
    if isinstance(record.get(SAMPLE_INDEX), int):
        parts.append(f"sample {record[SAMPLE_INDEX]}")
    parts.append(f"unit {record.get(UNIT)}")
    return " · ".join(parts)


def _instruction_text(instruction: str, context: str) -> Text:
    """The instruction with the passage it quotes folded to one marker (the passage is below)."""
    text = Text()
    pieces = instruction.split(context) if context.strip() else [instruction]
    for index, piece in enumerate(pieces):
        if index:
            text.append("[the passage, shown below]", style="dim italic")
        text.append(piece)
    return text


def _passage_text(context: str, answer: str) -> Text:
    """The passage with every occurrence of the answer highlighted (case-insensitive)."""
    text = Text(context)
    needle = answer.strip()
    if not needle:
        return text
    # Whole words only: the answer "No" is not the "no" in "normal".
    pattern = (r"\b" if needle[0].isalnum() else "") + re.escape(needle) + (r"\b" if needle[-1].isalnum() else "")
    for match in re.finditer(pattern, context, flags=re.IGNORECASE):
        text.stylize("bold black on yellow", match.start(), match.end())
    return text
