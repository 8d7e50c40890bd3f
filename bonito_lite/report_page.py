"""The report as one self-contained HTML page: charts drawn by matplotlib as inline SVG, the page by Jinja2.

Nothing on the page is fetched: styles are inline, there is no script, and the charts are SVG
whose text is left as text (``svg.fonttype: none``) for the browser to set in a local font.
The page holds document text, so it is written owner-only (0600), under a temporary name
beside it and renamed when complete. Both libraries come with the report extra.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InputError
from .filters import REASONS
from .record import (
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
)
from .report import (
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    LISTED_BARREN,
    TOP_ROWS,
    FileCoverage,
    Report,
    TaskFigures,
    answer_span,
    default_report_path,
    read_report,
    run_facts,
)
from .sinks import check_made_from, replaced_file

INSTALL_EXTRA = 'pip install "bonito-lite[report]"'
_LIBRARIES = ("matplotlib", "jinja2")

# Files drawn in the coverage chart, and cells per file row (passages are merged beyond it).
COVERAGE_FILES = 25
_COVERAGE_CELLS = 160
# Files listed in the coverage table.
LISTED_FILES = 200
# Passages that yielded this many examples or more share one colour (the last bucket).
_BUCKETS = ((0, 0), (1, 1), (2, 3), (4, 7), (8, 15), (16, None))
_BARREN_COLOUR = "#d1495b"
_BUCKET_COLOURS = ("#c6dbef", "#85bcdb", "#4a98c9", "#1c6aaf", "#08306b")
_KEPT_COLOUR = "#2b7bba"
_REASON_COLOURS = (
    "#f28e2b",
    "#e15759",
    "#b07aa1",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#76b7b2",
    "#59a14f",
    "#bab0ac",
    "#d37295",
)
_INK = "#333333"
_FONT = 9
# Charts are drawn at the page's width (1,056 px at 96 px an inch), so 9-point text stays 12 px.
_WIDTH_INCHES = 11


@dataclass(frozen=True)
class ReportResult:
    path: Path
    examples: int
    rejected: int
    bytes: int
    seconds: float


def missing_extra() -> str | None:
    """The one-line hint when the report's libraries are not installed."""
    for module in _LIBRARIES:
        try:
            importlib.import_module(module)
        except ImportError:
            return f"the report needs the report extra: {INSTALL_EXTRA}"
    return None


def check_report_extra() -> None:
    """Refuse before any work when the libraries are missing (``generate --report`` asks first)."""
    hint = missing_extra()
    if hint is not None:
        raise InputError(hint)


def write_report(
    output: str | os.PathLike,
    target: str | os.PathLike | None = None,
    overwrite: bool = False,
    seed: int = DEFAULT_SEED,
    samples: int = DEFAULT_SAMPLES,
) -> ReportResult:
    """Read ``output`` (a bonito-lite JSONL) and write its report page; bad input is an InputError."""
    started = time.monotonic()
    check_report_extra()
    source = Path(output)
    path = Path(target) if target is not None else default_report_path(source)
    _check_target(source, path, overwrite)
    report = read_report(source, seed=seed, samples=samples)
    html = render(report)
    data = html.encode("utf-8")
    with replaced_file(path) as tmp:  # owner-only: the page holds document text
        tmp.write_bytes(data)
    return ReportResult(path, report.examples, sum(report.rejected.values()), len(data), time.monotonic() - started)


def _check_target(source: Path, target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise InputError(f"{target} is a folder; give -o a file name ending in .html.")
    check_made_from(source, target, overwrite)


# --- the page ----------------------------------------------------------------------------------


def render(report: Report) -> str:
    """The whole page as one HTML string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bonito_lite", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["percent"] = _percent
    env.filters["number"] = lambda n: f"{n:,}"
    reasons = _reason_order(report)
    tasks = [_task_view(report.tasks[name], i) for i, name in enumerate(_task_order(report))]
    return env.get_template("report.html.j2").render(
        report=report,
        title=report.output.name,
        made=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        version=__version__,
        facts=run_facts(report),
        reasons=reasons,
        tasks=tasks,
        rejected_total=sum(report.rejected.values()),
        counts_chart=_counts_chart(report, reasons) if report.tasks else None,
        coverage_chart=_coverage_chart(report.files[:COVERAGE_FILES]) if report.files else None,
        files=report.files[:LISTED_FILES],
        files_left=max(len(report.files) - LISTED_FILES, 0),
        charted_files=min(len(report.files), COVERAGE_FILES),
        barren=[_passage_view(p) for p in report.barren],
        barren_count=report.barren_count,
        listed_barren=LISTED_BARREN,
        reject_samples=[
            (reason, report.rejected[reason], [_example_view(r) for r in report.reject_samples[reason].items])
            for reason in reasons
        ],
        top_rows=TOP_ROWS,
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _task_order(report: Report) -> list[str]:
    """Task types in the order the run asked for them (the manifest's), then any others."""
    listed = (report.manifest or {}).get("task_types")
    order = [t for t in listed if t in report.tasks] if isinstance(listed, list) else []
    return order + [t for t in report.tasks if t not in order]


def _reason_order(report: Report) -> list[str]:
    """Rejection reasons in the filters' order (the parser's own first), each once."""
    known = [r for r in REASONS if r in report.rejected]
    others = sorted(r for r in report.rejected if r not in known)
    return others + known


def _anchor(task_type: str) -> str:
    return "task-" + re.sub(r"[^a-z0-9]+", "-", task_type.lower()).strip("-")


def _task_view(task: TaskFigures, number: int) -> dict[str, Any]:
    return {
        "name": task.task_type,
        "anchor": _anchor(task.task_type),
        "kept": task.kept,
        "rejected": sum(task.rejected.values()),
        "reasons": task.rejected.most_common(),
        "distinct1": task.distinct1.ratio,
        "distinct2": task.distinct2.ratio,
        "instruction_median": _median(task.instruction_words),
        "answer_median": _median(task.answer_words),
        "lengths_chart": _lengths_chart(task, number) if task.kept else None,
        "openings": [(text, count, count / task.kept) for _, count, text in task.openings.most_common(TOP_ROWS)],
        "openings_exact": task.openings.exact,
        "groups": [(text, count) for _, count, text in task.groups.most_common(TOP_ROWS, least=2)],
        "groups_exact": task.groups.exact,
        "samples": [_example_view(r) for r in task.samples.items],
    }


def _median(lengths) -> int | None:
    total = sum(lengths.values())
    if not total:
        return None
    seen = 0
    for length in sorted(lengths):
        seen += lengths[length]
        if 2 * seen >= total:
            return length
    return None  # unreachable


def _example_view(record: dict[str, Any]) -> dict[str, Any]:
    """An example (or a reject) as the page shows it: the input with its passage set aside, and
    the passage with the answer marked where it occurs."""
    context = str(record.get(CONTEXT, ""))
    passage = context.strip()
    output = record.get(OUTPUT)
    parts: list[tuple[str, bool]] = []
    if INPUT in record:
        text = str(record[INPUT])
        pieces = text.split(passage) if passage else [text]
        for i, piece in enumerate(pieces):
            if i:
                parts.append(("", True))  # where the passage stands in the input
            if piece.strip():
                parts.append((piece.strip("\n"), False))
    span = answer_span(context, str(output)) if isinstance(output, str) else None
    return {
        "input_parts": parts,
        "output": output,
        "generation": record.get(GENERATION),
        "reason": record.get(REASON),
        "detail": record.get(DETAIL),
        "where": _where(record),
        "passage": (context[: span[0]], context[span[0] : span[1]], context[span[1] :]) if span else (context, "", ""),
        "highlighted": span is not None,
    }


def _where(record: dict[str, Any]) -> str:
    source = record.get(SOURCE, "?")
    where = f"{source}, passage {record.get(PASSAGE_INDEX, '?')}"
    if isinstance(record.get(CHAR_START), int) and isinstance(record.get(CHAR_END), int):
        where += f" (characters {record[CHAR_START]:,}-{record[CHAR_END]:,})"
    if isinstance(record.get(SAMPLE_INDEX), int):
        where += f", sample {record[SAMPLE_INDEX]}"
    return where


def _passage_view(passage) -> dict[str, Any]:
    return {
        "where": f"{passage.source}, passage {passage.index} (characters {passage.char_start:,}-{passage.char_end:,})",
        "preview": passage.preview,
        "reasons": passage.reasons.most_common(),
        "rejected": passage.rejected,
    }


# --- charts ------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=96)
    figure.patch.set_alpha(0)
    return figure


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(colors=_INK, labelsize=_FONT, length=3)
    ax.set_facecolor("none")


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def _svg(figure, name: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: text as text, no metadata, no namespace URLs."""
    import matplotlib
    from markupsafe import Markup

    buffer = io.StringIO()
    # A salt per chart keeps the clip-path ids of two charts on one page apart.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name, "font.family": "sans-serif"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.05)
    svg = _XML_PROLOGUE.sub("", buffer.getvalue(), count=1)
    svg = _METADATA.sub("", svg)
    # Inline SVG in HTML needs no namespace declarations; they are URLs a reader might mistake
    # for something fetched.
    svg = _NAMESPACES.sub("", svg)
    svg = svg.replace("xlink:href=", "href=")
    return Markup(f'<figure class="chart" role="img" aria-label="{name}">{svg}</figure>')


def _counts_chart(report: Report, reasons: list[str]) -> str:
    names = _task_order(report)
    tasks = [report.tasks[n] for n in names]
    figure = _figure(_WIDTH_INCHES, 0.9 + 0.26 * len(tasks))
    ax = figure.add_subplot()
    _style(ax)
    rows = range(len(tasks))
    left = [0] * len(tasks)
    series = [("kept", [t.kept for t in tasks], _KEPT_COLOUR)]
    series += [
        (reason, [t.rejected.get(reason, 0) for t in tasks], _REASON_COLOURS[i % len(_REASON_COLOURS)])
        for i, reason in enumerate(reasons)
    ]
    for label, values, colour in series:
        ax.barh(rows, values, left=left, color=colour, label=label, height=0.7)
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(list(rows), [_short(n, 38) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("generations", fontsize=_FONT, color=_INK)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=min(len(series), 5),
        frameon=False,
        fontsize=_FONT,
        handlelength=1,
        columnspacing=1.2,
    )
    return _svg(figure, "examples kept and rejected per task type")


def _bucket(mean_kept: float) -> int:
    """The colour bucket of a passage (or a run of merged passages) by examples yielded.

    Only a run none of whose passages yielded anything falls in the first (red) bucket.
    """
    if mean_kept == 0:
        return 0
    count = max(1, round(mean_kept))
    return next(
        number
        for number, (low, high) in enumerate(_BUCKETS)
        if number and low <= count and (high is None or count <= high)
    )


def coverage_cells(coverage: FileCoverage, cells: int = _COVERAGE_CELLS) -> list[tuple[float, float, int]]:
    """``(start, width, bucket)`` spans over [0, 1] of a file's text, one per passage (merged
    into at most ``cells`` runs of consecutive passages, coloured by their mean), adjacent spans
    of one colour joined."""
    passages = coverage.passages
    total = sum(max(p.chars, 1) for p in passages)
    per_cell = -(-len(passages) // cells)
    spans: list[tuple[float, float, int]] = []
    position = 0.0
    for first in range(0, len(passages), per_cell):
        group = passages[first : first + per_cell]
        width = sum(max(p.chars, 1) for p in group) / total
        mean = sum(p.kept for p in group) / len(group)
        bucket = _bucket(mean)
        if spans and spans[-1][2] == bucket:
            start, previous, _ = spans[-1]
            spans[-1] = (start, previous + width, bucket)
        else:
            spans.append((position, width, bucket))
        position += width
    return spans


def _bucket_label(number: int) -> str:
    low, high = _BUCKETS[number]
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _coverage_chart(files: list[FileCoverage]) -> str:
    from matplotlib.patches import Patch

    colours = (_BARREN_COLOUR,) + _BUCKET_COLOURS
    figure = _figure(_WIDTH_INCHES, 0.8 + 0.28 * len(files))
    ax = figure.add_subplot()
    _style(ax)
    for row, coverage in enumerate(files):
        spans = coverage_cells(coverage)
        ax.broken_barh(
            [(s, w) for s, w, _ in spans],
            (row - 0.35, 0.7),
            facecolors=[colours[b] for _, _, b in spans],
            edgecolor="none",
        )
    ax.set_ylim(len(files) - 0.5, -0.5)
    ax.set_yticks(range(len(files)), [_short(Path(f.file).name, 34) for f in files])
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["start", "25%", "50%", "75%", "end"])
    ax.set_xlabel("position in the file (by characters)", fontsize=_FONT, color=_INK)
    handles = [Patch(color=colours[i], label=_bucket_label(i)) for i in range(len(_BUCKETS))]
    ax.legend(
        handles=handles,
        title="examples per passage",
        title_fontsize=_FONT,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(handles),
        frameon=False,
        fontsize=_FONT,
        handlelength=1,
    )
    return _svg(figure, "coverage of the documents")


def _lengths_chart(task: TaskFigures, number: int) -> str:
    figure = _figure(_WIDTH_INCHES, 2.0)
    axes = figure.subplots(1, 2)
    for ax, lengths, label, colour in (
        (axes[0], task.instruction_words, "instruction length (words)", "#4e79a7"),
        (axes[1], task.answer_words, "answer length (words)", "#59a14f"),
    ):
        _style(ax)
        values = sorted(lengths)
        top = values[-1] if values else 1
        # One bar per length while lengths are short, else 30 bars; one filled outline either way.
        bins = [k - 0.5 for k in range(0, top + 2)] if top <= 40 else 30
        ax.hist(values, bins=bins, weights=[lengths[v] for v in values], color=colour, histtype="stepfilled")
        ax.set_xlim(left=-0.5, right=max(top + 0.5, 5))
        ax.set_xlabel(label, fontsize=_FONT, color=_INK)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel("examples", fontsize=_FONT, color=_INK)
    figure.subplots_adjust(wspace=0.25)
    return _svg(figure, f"lengths {number}")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
