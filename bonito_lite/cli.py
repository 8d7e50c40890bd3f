"""The command line: parses arguments and maps domain errors to one-line messages.

All work lives in the library modules; a command here only translates options into a
library call and a ``BonitoLiteError`` into ``Error: ...`` with its exit code.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import traceback

import click

from . import __version__
from .errors import BonitoLiteError
from .export import FORMATS
from .inputs.readers import READERS
from .logs import configure_logging
from .models.quantize import DEFAULT_QUANT
from .report import DEFAULT_SAMPLES, DEFAULT_SEED
from .settings import (
    CHUNK_TOKENS,
    CONSTRAIN,
    CTX_SIZE,
    ENGINE,
    GENERATE,
    MAX_TOKENS,
    MODEL_ENV,
    N_GPU_LAYERS,
    THREADS,
    Caller,
    Setting,
    called_from,
    passage_ctx_size,
)
from .stopping import Sigterm, sigterm_interrupts
from .task_types import TASK_TYPES

IGNORE_REVIEW_HELP = "Export the examples as generated, without the decisions of 'bonito-lite review'."

# Exit codes shared by every command.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _debug_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    flag = os.environ.get("BONITO_LITE_DEBUG", "").strip().lower()
    return bool(root and root.obj and root.obj.get("debug")) or flag not in ("", "0", "false", "no", "off")


def handles_errors(command):
    """Turn a library error into a one-line message and its exit code (tracebacks with --debug)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        sigterm = Sigterm()
        try:
            # SIGTERM (kill, timeout) stops any command as Ctrl-C does, so that what it was
            # writing (a conversion's intermediate file, a report's work folder) is removed.
            with called_from(Caller.CLI), sigterm_interrupts() as sigterm:  # messages name settings by their --flags
                return command(*args, **kwargs)
        except BonitoLiteError as error:
            _traceback_if_debug()
            click.echo(f"Error: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            _traceback_if_debug()
            if sigterm.received:
                click.echo("Terminated.", err=True)
                sys.exit(128 + signal.SIGTERM)
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except ModuleNotFoundError as error:
            # Optional extras are checked before use, with their own hints; a library missing
            # here is one bonito-lite always needs: this Python has not installed it.
            if (error.name or "").split(".")[0] in ("", "bonito_lite"):
                raise
            _traceback_if_debug()
            click.echo(
                f"Error: {error.name!r} is not installed in this Python ({sys.executable}), and bonito-lite "
                "needs it: install bonito-lite into it (pip install . in a checkout of bonito-lite)",
                err=True,
            )
            sys.exit(EXIT_FAILED)
        except OSError as error:
            # The library reports the files it expects to fail on; this is the rest (a folder
            # that cannot be listed, a file the system refuses): still one line, not a traceback.
            if error.filename is None:
                raise
            _traceback_if_debug()
            click.echo(f"Error: {_os_error_message(error)}", err=True)
            sys.exit(EXIT_USAGE if isinstance(error, PermissionError) else EXIT_FAILED)

    return wrapper


def _refuse_stdout(output: str | None, why: str) -> None:
    """``-o -``, which generate reads as standard output, is no file name for a command that
    cannot write there: refused rather than taken for a file named "-"."""
    if output == "-":
        raise click.UsageError(f"-o - (standard output) is not taken here: {why}; give -o a file name.")


def _traceback_if_debug() -> None:
    """With --debug, the traceback of the error being handled; the message and the exit code
    that follow are the same as without it, so that scripts see the same status."""
    if _debug_enabled():
        traceback.print_exc()


def _os_error_message(error: OSError) -> str:
    path = error.filename if error.filename2 is None else f"{error.filename} -> {error.filename2}"
    reason = (error.strerror or type(error).__name__).lower()
    if isinstance(error, PermissionError):
        return f"{path}: {reason}; check that you may read it (and write where output goes), or choose another path."
    return f"{path}: {reason}."


class _OneLineUsageErrors(click.Group):
    """Click's usage errors as one line, like every other error: what is wrong, where help is."""

    @staticmethod
    def _one_line(error: click.UsageError) -> click.UsageError:
        # A command run with no arguments shows its help (Click 8.2+), which is not an error.
        if isinstance(error, getattr(click.exceptions, "NoArgsIsHelpError", ())):
            return error
        if error.ctx is not None:
            error.message = f"{error.message.rstrip()} (see '{error.ctx.command_path} --help')"
            error.ctx = None
        return error

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            raise self._one_line(error) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise self._one_line(error) from None


def _checked_type(setting: Setting) -> click.ParamType:
    """The Click type of a setting: parsed as Click parses, checked by the setting's own rule."""
    if setting.choices:
        return click.Choice(setting.choices)
    if setting.multiple:
        checked = _CheckedText()
    else:
        number = _CheckedInt if setting.type is int else _CheckedFloat
        checked = number(setting.minimum, setting.maximum, min_open=setting.min_open, max_open=setting.max_open)
    checked.setting = setting
    return checked


class _Checked:
    """A Click type whose values pass ``Setting.problem``; Click's error names the --flag."""

    parse: click.ParamType
    setting: Setting

    def convert(self, value, param, ctx):
        value = self.parse.convert(value, param, ctx)
        setting = self.setting
        problem = setting.problem((value,) if setting.multiple else value, Caller.CLI)
        if problem is not None:
            self.fail(problem, param, ctx)
        return value


# Range types, so that --help shows each option's range as Click writes it.
class _CheckedInt(_Checked, click.IntRange):
    parse = click.INT


class _CheckedFloat(_Checked, click.FloatRange):
    parse = click.FLOAT


class _CheckedText(_Checked, click.ParamType):
    name = "text"
    parse = click.STRING


def setting_option(setting: Setting):
    """The Click option of a declared setting: its flag, type, default, env var and help."""
    kwargs = {}
    if setting.default not in (None, ()):
        kwargs.update(default=setting.default, show_default=True)
    elif setting.none_means:
        kwargs.update(show_default=setting.none_means)
    if setting.choices or setting.multiple or setting.type in (int, float):
        kwargs["type"] = _checked_type(setting)
    return click.option(
        setting.name,
        setting.flag or setting.cli_name,
        multiple=setting.multiple,
        envvar=setting.envvar,
        show_envvar=setting.envvar is not None,  # "[env var: BONITO_LITE_MODEL]": where a value can come from
        metavar=setting.metavar,
        help=setting.help,
        **kwargs,
    )


def setting_options(*settings: Setting):
    """Each declared setting's option, in the order given."""

    def decorate(command):
        for setting in reversed(settings):
            command = setting_option(setting)(command)
        return command

    return decorate


@click.group(cls=_OneLineUsageErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bonito-lite")
@click.option(
    "--debug",
    is_flag=True,
    envvar="BONITO_LITE_DEBUG",
    help="Show tracebacks for errors (also BONITO_LITE_DEBUG=1).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Turn your own documents into instruction-tuning data with Bonito, offline.

    Example:

        bonito-lite generate notes.txt --task-type extractive_qa
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    # Every command's warnings read alike; a command with -v or -q sets its own level again.
    configure_logging()


@cli.command(name="task-types")
def task_types_command() -> None:
    """List the 16 task types with their short forms and aliases."""
    width = max(len(t.alias) for t in TASK_TYPES)
    for task in TASK_TYPES:
        click.echo(f"{task.alias:<{width}}  {task.short:<14} {task.full_name}")


@cli.command(
    name="generate",
    help=f"Generate instruction-tuning examples from documents ({' '.join(READERS)}, folders, -).",
)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "task_types",
    "-t",
    "--task-type",
    multiple=True,
    required=True,
    help="Task type: an alias, short form or full name, or 'all'; repeat for several.",
)
@click.option(
    "-o", "--output", metavar="FILE", help="Output JSONL (default: <first input>.bonito.jsonl here); '-' for stdout."
)
@setting_options(*GENERATE)
@click.option("--dry-run", is_flag=True, help="Show passages, prompt tokens and a time estimate; generate nothing.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress, summary or warnings: errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Show llama.cpp's own log.")
@click.option(
    "formats",
    "--format",
    multiple=True,
    type=click.Choice(list(FORMATS)),
    help="Also write the whole output in a trainer's format when the run completes "
    "(as 'bonito-lite export' does); repeat for several.",
)
@click.option("--ignore-review", is_flag=True, help=IGNORE_REVIEW_HELP)
@click.option(
    "with_report",
    "--report",
    is_flag=True,
    help="Also write the HTML report of the whole output when the run completes (as 'bonito-lite report' does).",
)
@handles_errors
def generate_command(
    inputs,
    task_types,
    output,
    dry_run,
    overwrite,
    quiet,
    verbose,
    formats,
    ignore_review,
    with_report,
    **settings,
) -> None:
    from .engines.generation import EngineSettings
    from .models.paths import TOY
    from .run import GenerateOptions, GenerateRun, RunInterrupted

    configure_logging(verbose, quiet)
    if formats and output == "-":
        raise click.UsageError(
            "--format needs an output file; with -o - run 'bonito-lite export' on a saved output instead."
        )
    if with_report and output == "-":
        raise click.UsageError(
            "--report needs an output file; with -o - run 'bonito-lite report' on a saved output instead."
        )
    if with_report:
        from .report_page import check_report_extra

        check_report_extra()  # before hours of generation, not after
    ctx_size = settings.pop(CTX_SIZE.name)
    if ctx_size is None:
        ctx_size = passage_ctx_size(settings[CHUNK_TOKENS.name], settings[MAX_TOKENS.name])
    engine = {setting.name: settings.pop(setting.name) for setting in (*ENGINE, CONSTRAIN) if setting is not CTX_SIZE}
    options = GenerateOptions(
        inputs=tuple(inputs),
        task_types=tuple(task_types),
        output=output,
        overwrite=overwrite,
        quiet=quiet,
        engine=EngineSettings(ctx_size=ctx_size, verbose=verbose, **engine),
        **settings,
    )
    run = GenerateRun(options)
    if options.model == TOY and not quiet:
        click.echo("Using the bundled toy model: a demo of the pipeline, not a useful Bonito.", err=True)
    if dry_run:
        _print_dry_run(run)
        return
    if formats and run.output is not None:
        from .export import check_export_targets

        check_export_targets(run.output, formats, replacing=overwrite, ignore_review=ignore_review)
    plan = run.prepare()
    if plan.resuming and not quiet:
        click.echo(plan.describe(), err=True)
    try:
        report = run.execute()
    except RunInterrupted as stop:
        if _debug_enabled():
            raise
        if not quiet:
            click.echo(_summary(stop.report), err=True)
        # With --overwrite the same command would empty the output again.
        rerun = "the same command without --overwrite" if overwrite else "the same command"
        click.echo(
            f"{'Terminated' if stop.signal_number == signal.SIGTERM else 'Interrupted'} after "
            f"{stop.report.done_units} of {stop.report.total_units} generations; "
            f"everything written is complete. Rerun {rerun} to resume.",
            err=True,
        )
        if formats:
            click.echo(
                f"Not written as {', '.join(dict.fromkeys(formats))}: the run did not finish; the rerun "
                "writes them once it completes.",
                err=True,
            )
        if with_report:
            click.echo(
                "No report written: the run did not finish; the rerun writes it once it completes "
                "('bonito-lite report' shows what is there now).",
                err=True,
            )
        sys.exit(EXIT_INTERRUPTED if stop.signal_number == signal.SIGINT else 128 + stop.signal_number)
    if not quiet:
        click.echo(_summary(report), err=True)
    _write_formats(report, formats, quiet, ignore_review)
    if with_report:
        _write_report(report, quiet)


def _write_formats(report, formats, quiet: bool, ignore_review: bool) -> None:
    """After a complete run: each asked-for format, made from the whole output (earlier runs too)."""
    from .export import default_export_path, export_dataset

    if not formats:
        return
    if report.before.parsed + report.stats.parsed == 0:
        click.echo(f"Warning: {report.output} holds no examples, so no {', '.join(formats)} was written.", err=True)
        return
    for number, fmt in enumerate(dict.fromkeys(formats)):
        # A view of the working JSONL: each completed run replaces the last one's.
        result = export_dataset(
            report.output, fmt, default_export_path(report.output, fmt), overwrite=True, ignore_review=ignore_review
        )
        if quiet:
            continue
        if number == 0:  # the same review applies to every format: said once
            _echo_review(result.review)
        click.echo(f"Wrote {result.path} ({_count(result.records, 'example')}, {fmt}).", err=True)


def _echo_review(counts) -> None:
    if counts is not None:
        click.echo(counts.describe(), err=True)


def _write_report(report, quiet: bool) -> None:
    """After a complete run: the report page of the whole output (earlier runs too)."""
    from .report_page import write_report

    if report.before.generations + report.stats.generations == 0:
        click.echo(f"Warning: {report.output} holds nothing yet, so no report was written.", err=True)
        return
    # A view of the working JSONL, like the formats: each completed run replaces the last one's.
    result = write_report(report.output, overwrite=True)
    if not quiet:
        click.echo(f"Wrote {result.path} (report, {result.bytes / 1e6:.1f} MB).", err=True)


def _print_dry_run(run) -> None:
    def show(passage) -> None:
        preview = " ".join(passage.text.split())[:70]
        click.echo(f"{passage.source} #{passage.index} [{passage.char_start}:{passage.char_end}] {preview}")

    report = run.dry_run(show)
    counts = f"{report.passages} passages, {report.generations} generations, {report.prompt_tokens} prompt tokens"
    if report.skipped_files:
        counts += f"; {_skipped_files(report.skipped_files)}"
    if report.estimated_seconds is None:
        click.echo(f"{counts}; no time estimate for a server.")
        return
    click.echo(
        f"{counts}; rough estimate: {report.estimated_seconds / 60:.1f} min on this CPU with "
        f"{_count(report.threads, 'thread')} and nothing else running (upper bound: every example "
        "at --max-tokens); other programs using the CPU make it longer."
    )


def _summary(report) -> str:
    stats = report.stats
    before = report.before
    if not stats.generations and before.generations and report.status == "complete":
        return (
            f"Nothing to generate: {report.output} already holds {_count(before.parsed, 'example')} "
            f"({sum(before.rejected.values())} rejected); every generation asked for is done."
        )
    rejected = sum(stats.rejected.values())
    reasons = ", ".join(f"{r} {n}" for r, n in stats.rejected.most_common())
    lines = [
        f"{_count(stats.parsed, 'example')} written to {report.output} from "
        f"{_count(stats.passages, 'passage')} ({_count(stats.generations, 'generation')}) "
        f"in {report.seconds:.1f} s, "
        f"{report.examples_per_minute:.1f} examples/min on {report.backend}"
        + (f", {_count(report.sequences, 'sequence')} at a time." if report.sequences else "."),
    ]
    if rejected:
        kept = (
            f"kept in {report.rejected_output}" if report.rejected_output else "not kept: -o - writes the examples only"
        )
        lines.append(f"{rejected} rejected ({reasons}), {kept}.")
    if report.skipped_files:
        lines.append(f"{_skipped_files(report.skipped_files).capitalize()}.")
    if len(stats.by_task) > 1:
        lines.extend(_task_summary(stats.by_task))
    if before.generations:
        lines.append(
            f"Resumed: {_count(before.parsed, 'example')} and {sum(before.rejected.values())} rejected "
            f"were already there from earlier runs."
        )
    return "\n".join(lines)


def _skipped_files(files) -> str:
    return f"{_count(len(files), 'file')} skipped (see the warnings)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _task_summary(by_task) -> list[str]:
    """One line per task type: examples kept, and rejected by reason."""
    width = max(len(task) for task in by_task)
    lines = []
    for task, counts in by_task.items():
        line = f"  {task:<{width}}  {counts.kept} kept"
        if counts.rejected:
            reasons = ", ".join(f"{r} {n}" for r, n in counts.rejected.most_common())
            line += f", {sum(counts.rejected.values())} rejected ({reasons})"
        lines.append(line)
    return lines


@cli.command(name="convert")
@click.argument("source")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="GGUF file to write [default: models/<name>.<QUANT>.gguf].",
)
@click.option(
    "--quant",
    default=DEFAULT_QUANT,
    show_default=True,
    help="Quantization type (case-insensitive): F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_K_S,"
    " Q4_K_M, Q4_K_S, Q4_0, Q3_K_M, Q2_K, IQ4_NL.",
)
@click.option("--revision", default=None, help="Branch, tag or commit to download from the hub.")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Log each tensor written, and llama.cpp's own log while quantizing, instead of progress bars.",
)
@handles_errors
def convert_command(
    source: str, output: str | None, quant: str, revision: str | None, overwrite: bool, verbose: bool
) -> None:
    """Convert a Hugging Face checkpoint of Bonito to a (quantized) GGUF file.

    SOURCE is a local checkpoint folder or a hub id such as BatsResearch/bonito-v1
    (downloaded once into the Hugging Face cache; HF_HUB_OFFLINE=1 uses the cache only).
    """
    from .models.convert import convert_checkpoint

    configure_logging(verbose)
    result = convert_checkpoint(
        source,
        output,
        quant=quant,
        revision=revision,
        overwrite=overwrite,
        progress=not verbose,
        verbose=verbose,
    )
    click.echo(f"Wrote {result.path} ({result.size_bytes / 1e9:.2f} GB, {result.quant}) in {result.seconds:.0f} s")


@cli.command(name="pull")
@click.argument("repository", metavar="REPO")
@click.option(
    "--quant",
    default=DEFAULT_QUANT,
    show_default=True,
    help="Quantization type to download, as in the repository's file names (case-insensitive), or one file's name.",
)
@click.option("--revision", default=None, help="Branch, tag or commit of the repository [default: main].")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="GGUF file to write [default: models/<the file's name in the repository>].",
)
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or warnings: errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Show the Hugging Face client's own log (retries, resumption).")
@handles_errors
def pull_command(
    repository: str, quant: str, revision: str | None, output: str | None, overwrite: bool, quiet: bool, verbose: bool
) -> None:
    """Download a published Bonito GGUF from the Hugging Face Hub into ./models/, checked before use.

    REPO is a hub repository of GGUF conversions, such as mradermacher/bonito-v1-GGUF. The
    file must be bonito-v1 or Llama-3.1-8B-bonito-v1 (shape and tokenizer); anything else is
    refused and not kept. The download goes through the Hugging Face cache (HF_HUB_OFFLINE=1
    uses the cache only); a sidecar NAME.gguf.source.json records the repository, revision
    and sha256.
    """
    import logging

    from .models.pull import pull_model

    configure_logging(verbose, quiet)
    # Set once the library is imported: its import sets its own level (warnings), which would
    # print its retry messages ("Error while downloading ...") under -q and hide them under -v.
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity(logging.INFO if verbose else logging.ERROR)
    result = pull_model(
        repository, quant=quant, revision=revision, output=output, overwrite=overwrite, progress=not quiet
    )
    click.echo(
        f"Wrote {result.path} ({result.size_bytes / 1e9:.2f} GB, {result.quant}, {result.model.name}) "
        f"from {result.repository} at {result.revision[:12]}; its source is recorded in {result.sidecar}"
    )


@cli.command(name="export")
@click.argument("jsonl", metavar="INPUT.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "formats",
    "--format",
    required=True,
    multiple=True,
    type=click.Choice(list(FORMATS)),
    help="alpaca or messages (JSON Lines), parquet, or hf (a Dataset.save_to_disk folder); repeat for several.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="File or folder to write [default: beside INPUT, e.g. notes.bonito.alpaca.jsonl].",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--ignore-review", is_flag=True, help=IGNORE_REVIEW_HELP)
@handles_errors
def export_command(
    jsonl: str, formats: tuple[str, ...], output: str | None, overwrite: bool, ignore_review: bool
) -> None:
    """Write the examples of a generated JSONL in a trainer's format, without generating again.

    Decisions made with 'bonito-lite review' are applied: dropped examples left out, edits
    applied, rejected examples taken back added.
    """
    from .export import check_export, export_dataset

    _refuse_stdout(output, "export writes files (a folder for hf)")
    formats = tuple(dict.fromkeys(formats))  # in the order given, once each
    if output is not None and len(formats) > 1:
        raise click.UsageError("-o names one output; leave it out to write each --format beside INPUT.")
    if len(formats) > 1:  # every output checked before the first is written
        for fmt in formats:
            check_export(jsonl, fmt, None, overwrite, named_by_o=False)
    for number, fmt in enumerate(formats):
        result = export_dataset(jsonl, fmt, output, overwrite=overwrite, ignore_review=ignore_review)
        if number == 0:
            _echo_review(result.review)
        click.echo(f"Wrote {result.path} ({_count(result.records, 'example')}, {fmt}) in {result.seconds:.1f} s.")


@cli.command(name="review")
@click.argument("jsonl", metavar="OUTPUT.jsonl", type=click.Path(exists=True, dir_okay=False))
@handles_errors
def review_command(jsonl: str) -> None:
    """Keep, drop or fix generated examples from the keyboard, one at a time.

    Decisions are saved as each key is pressed in OUTPUT.review.jsonl beside the output
    (which is never rewritten); 'export' and 'generate --format' apply them. Reopening
    continues where the last review stopped.
    """
    from pathlib import Path

    from .review import run_review

    store = run_review(Path(jsonl))
    click.echo(f"{_count(len(store.decisions), 'decision')} saved in {store.sidecar}.", err=True)


@cli.command(name="report")
@click.argument("jsonl", metavar="OUTPUT.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="HTML file to write [default: beside OUTPUT, e.g. notes.bonito.report.html].",
)
@click.option(
    "--samples",
    default=DEFAULT_SAMPLES,
    show_default=True,
    type=click.IntRange(min=0),
    help="Examples shown per task type, drawn at random.",
)
@click.option(
    "--seed",
    default=DEFAULT_SEED,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the random samples; the same seed shows the same examples.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing report.")
@handles_errors
def report_command(jsonl: str, output: str | None, samples: int, seed: int, overwrite: bool) -> None:
    """Write one offline HTML page that shows a generated dataset.

    Counts per task type and rejects by reason, coverage of the documents, lengths,
    diversity and samples, from OUTPUT.jsonl, its rejects file and its manifest. The page
    loads nothing from anywhere and holds document text: it is written owner-only.
    """
    from .report_page import write_report

    _refuse_stdout(output, "the report is a page written owner-only, as it holds document text")
    result = write_report(jsonl, output, overwrite=overwrite, seed=seed, samples=samples)
    click.echo(
        f"Wrote {result.path} ({_count(result.examples, 'example')}, {result.rejected} rejected; "
        f"{result.bytes / 1e6:.1f} MB) in {result.seconds:.1f} s."
    )


@cli.command(name="inspect")
@click.argument("model", required=False, envvar=MODEL_ENV, metavar="[MODEL]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handles_errors
def inspect_command(model: str | None, as_json: bool) -> None:
    """Describe a GGUF model from its header: shape, quant type, Bonito metadata.

    MODEL is what --model takes: a .gguf file, 'toy', else $BONITO_LITE_MODEL or the one
    model in ./models/. Only the header is read, never the weights.
    """
    import json

    from .models.summary import format_summary, summarize_model

    summary = summarize_model(model)
    click.echo(json.dumps(summary.as_dict(), indent=2) if as_json else format_summary(summary))


@cli.command(name="quant-report")
@click.argument("model", required=False, envvar=MODEL_ENV, metavar="[MODEL]")
@click.option(
    "-r",
    "--reference",
    required=True,
    metavar="GGUF",
    help="The F16 (or BF16/F32) GGUF the quantized model was made from.",
)
@click.option(
    "--passages",
    type=click.IntRange(min=1),
    default=None,
    help="Bundled sample passages to evaluate [default: all 16, one per task type].",
)
@setting_options(THREADS, N_GPU_LAYERS)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Folder for the reference's temporary log-probabilities [default: the system's temp folder].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or warnings: errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Show llama.cpp's own log.")
@handles_errors
def quant_report_command(model, reference, passages, threads, n_gpu_layers, workdir, as_json, quiet, verbose) -> None:
    """Measure how far a quantized GGUF drifts from its F16 reference (KL divergence, top-1, perplexity).

    Both models read Bonito prompts built from sample passages bundled with bonito-lite. The
    reference runs first and its log-probabilities wait on disk, so the two models are never
    in memory together. MODEL is what --model takes (a .gguf file, 'toy', else
    $BONITO_LITE_MODEL or the one model in ./models/).
    """
    import json

    from .models.quant_report import format_report, quant_report

    configure_logging(verbose, quiet)
    report = quant_report(
        model,
        reference,
        passages=passages,
        threads=threads,
        n_gpu_layers=n_gpu_layers,
        verbose=verbose,
        quiet=quiet or as_json,
        workdir=workdir,
    )
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else format_report(report))


def main() -> None:
    cli(prog_name="bonito-lite")
