"""Every bad input to ``bonito-lite generate`` is answered with one line and the right exit code.

Bad usage or input exits 2, a failure while running exits 1; neither shows a traceback unless
``--debug`` (or ``BONITO_LITE_DEBUG=1``) asks for one. Files that cannot be read as UTF-8 text
are skipped with a warning naming them and the run goes on with the other inputs. Every model
file here is built by the test from the bundled toy or with ``gguf.GGUFWriter``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import bonito_lite
from bonito_lite.cli import cli
from bonito_lite.models.paths import toy_model_path

from cli_helpers import TOY_NOTICE, assert_one_line_error, read_jsonl
from model_factory import write_small_gguf

GOOD = "The boiler in the north wing was serviced on 3 March by Ana Ruiz.\n"
# Short generations keep the runs quick; nothing here depends on what the toy writes.
SMALL = ["--model", "toy", "--max-tokens", "64", "--limit", "2"]


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


@pytest.fixture(autouse=True)
def in_tmp(in_tmp):
    tmp_path = in_tmp
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    return tmp_path


# --- inputs ------------------------------------------------------------------------------------


def test_a_missing_path_is_named(tmp_path):
    result = invoke(["generate", "absent.txt", "-t", "exqa", *SMALL])
    assert_one_line_error(result, 2, "absent.txt", "no such file")


def test_a_folder_without_supported_files_lists_what_is_read(tmp_path):
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "page.tiff").write_bytes(b"II*\0")
    (tmp_path / "scans" / ".hidden.txt").write_text(GOOD)
    result = invoke(["generate", "scans", "-t", "exqa", *SMALL])
    assert_one_line_error(result, 2, "scans", "no supported files", ".txt", ".parquet")


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "nothing").mkdir()
    assert_one_line_error(invoke(["generate", "nothing", "-t", "exqa", *SMALL]), 2, "nothing")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, content, warning",
    [
        ("empty.txt", b"", "empty.txt: no text; skipped."),
        ("blank.md", b"  \n\n\t\n", "blank.md: no text; skipped."),
        ("scan.txt", b"%PDF\x00\x01\x02" + bytes(range(256)), "scan.txt: looks binary"),
        ("latin.txt", "Caf\u00e9 cr\u00e8me. ".encode("latin-1") * 20, "latin.txt: not valid UTF-8"),
        (
            "utf16.txt",
            "Notes in UTF-16.".encode("utf-16"),
            "utf16.txt: UTF-16 text (it starts with a UTF-16 byte-order mark); skipped. Convert it first, "
            "e.g. iconv -f UTF-16 -t UTF-8 utf16.txt > converted.txt",
        ),
    ],
)
def test_an_unreadable_file_is_skipped_with_a_warning_and_the_run_goes_on(tmp_path, name, content, warning):
    (tmp_path / name).write_bytes(content)
    result = invoke(["generate", name, "good.txt", "-t", "exqa", "-o", "out.jsonl", *SMALL])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1 and warning in warnings[0], result.stderr
    outcomes = read_jsonl(tmp_path / "out.jsonl") + read_jsonl(tmp_path / "out.rejected.jsonl")
    assert [o["source"] for o in outcomes] == ["good.txt"]
    assert outcomes[0]["context"] == GOOD.strip()


@pytest.mark.slow
def test_the_not_utf8_warning_names_the_encoding_tried_and_the_byte(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Ol\u00e1, mundo.".encode("latin-1"))
    result = invoke(["generate", "latin.txt", "good.txt", "-t", "exqa", "-o", "out.jsonl", *SMALL])
    assert result.exit_code == 0, result.output
    assert "latin.txt: not valid UTF-8 (decoding as UTF-8 failed at byte 2)" in result.stderr
    # One accented letter is too little to tell an encoding by: none is named.
    assert "encoding could not be told; convert it to UTF-8 first, e.g. iconv -f ENCODING -t UTF-8" in result.stderr


@pytest.mark.parametrize(
    "content", [b"", "caf\u00e9".encode("latin-1"), b"\x00\x00binary"], ids=["empty", "latin1", "binary"]
)
def test_when_every_input_is_skipped_the_run_fails_in_one_line(tmp_path, content):
    (tmp_path / "only.txt").write_bytes(content)
    result = invoke(["generate", "only.txt", "-t", "exqa", "-o", "out.jsonl", *SMALL])
    # The warning that skipped the file comes first; the error itself is one line.
    assert_one_line_error(result, 2, "no text to generate", warnings_allowed=True)
    assert "only.txt" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.slow
def test_a_passage_longer_than_the_window_is_split_never_truncated(tmp_path):
    # One paragraph with no blank line, about ten times the passage budget.
    sentences = [f"Valve {i} on line {i % 7} was checked by the night crew and found sound." for i in range(60)]
    document = " ".join(sentences) + "\n"
    (tmp_path / "long.txt").write_text(document, encoding="utf-8")
    result = invoke(
        [
            "generate",
            "long.txt",
            "-t",
            "exqa",
            "-o",
            "out.jsonl",
            "--model",
            "toy",
            "--quiet",
            "--chunk-tokens",
            "64",
            "--max-tokens",
            "8",
            "--ctx-size",
            "128",
        ]
    )
    assert result.exit_code == 0, result.output
    outcomes = read_jsonl(tmp_path / "out.jsonl") + read_jsonl(tmp_path / "out.rejected.jsonl")
    spans = sorted({(o["char_start"], o["char_end"], o["context"]) for o in outcomes})
    assert len(spans) >= 8
    position = 0
    for start, end, context in spans:
        assert document[start:end] == context
        assert document[position:start].strip() == "", "text between passages was lost"
        position = end
    assert document[position:].strip() == "", "the end of the document was lost"


@pytest.mark.slow
def test_a_large_file_is_cut_in_flat_memory(tmp_path):
    """A dry run over ~50 MB peaks no higher than over ~1 MB: the file is streamed."""
    # Paragraphs within the passage budget: cutting them costs one count each, so the run
    # stays short; memory, not the chunker's packing, is what this measures.
    paragraph = " ".join(f"Clause {i} binds the tenant and the landlord alike." for i in range(20))
    block = ("## Section\n\n" + "\n\n".join([paragraph] * 20) + "\n\n").encode()
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_bytes(block * (1_000_000 // len(block)))
    with open(large, "wb") as handle:
        for _ in range(50_000_000 // len(block)):
            handle.write(block)
    # A fresh parent per run: RUSAGE_CHILDREN is the peak over every child it waited for.
    measure = textwrap.dedent(
        """
        import resource, subprocess, sys
        done = subprocess.run([sys.executable, "-m", "bonito_lite", *sys.argv[1:]],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        kb = peak // 1024 if sys.platform == "darwin" else peak
        print(done.returncode, kb, done.stdout.strip().splitlines()[-1].split()[0])
        """
    )

    def peak_kb(path: Path) -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", measure, "generate", str(path), "-t", "exqa", "--model", "toy", "--dry-run"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout.split()
        assert out[0] == "0"
        return int(out[1]), int(out[2])

    small_kb, small_passages = peak_kb(small)
    large_kb, large_passages = peak_kb(large)
    assert large_passages > 40 * small_passages  # it really read the whole large file
    assert large_kb - small_kb < 30 * 1024, f"peak grew by {(large_kb - small_kb) / 1024:.0f} MB"


# --- options -----------------------------------------------------------------------------------


def test_an_unknown_task_type_suggests_the_closest_matches():
    result = invoke(["generate", "good.txt", "-t", "yes_no_qq", *SMALL])
    message = assert_one_line_error(result, 2, "yes_no_qq", "yes_no_qa", "task-types")
    assert "extractive" not in message


@pytest.mark.parametrize(
    "option, value, needle",
    [
        ("--temperature", "-0.5", "--temperature"),
        ("--temperature", "nan", "--temperature"),
        ("--temperature", "inf", "--temperature"),
        ("--top-p", "0", "--top-p"),
        ("--top-p", "2", "--top-p"),
        ("--top-p", "-1", "--top-p"),
        ("--max-tokens", "0", "--max-tokens"),
        ("--max-tokens", "-3", "--max-tokens"),
        ("--num-samples", "0", "--num-samples"),
        ("--chunk-tokens", "0", "--chunk-tokens"),
        ("--seed", "-1", "--seed"),
        ("--limit", "0", "--limit"),
        ("--temperature", "warm", "--temperature"),
        ("--top-k", "-1", "--top-k"),
        ("--min-p", "1.5", "--min-p"),
        ("--min-p", "nan", "--min-p"),
        ("--repetition-penalty", "0", "--repetition-penalty"),
        ("--repetition-penalty", "nan", "--repetition-penalty"),
        ("--stop", "", "--stop"),
    ],
)
def test_nonsense_sampling_values_are_refused(tmp_path, option, value, needle):
    result = invoke(["generate", "good.txt", "-t", "exqa", "-o", "out.jsonl", *SMALL, option, value])
    assert_one_line_error(result, 2, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt"]


@pytest.mark.parametrize(
    "args",
    [
        ["--ctx-size", "256", "--chunk-tokens", "200", "--max-tokens", "64"],
        ["--ctx-size", "2048", "--chunk-tokens", "1900", "--max-tokens", "256"],
        ["--ctx-size", "512", "--max-tokens", "200"],  # default --chunk-tokens 384
    ],
)
def test_a_window_too_small_for_a_passage_and_its_generation_is_refused(args):
    result = invoke(["generate", "good.txt", "-t", "exqa", "--model", "toy", *args])
    assert_one_line_error(result, 2, "--ctx-size", "--chunk-tokens")


def test_a_context_column_not_in_the_table_lists_the_columns(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"body": "x", "id": 1}\n', encoding="utf-8")
    result = invoke(["generate", "rows.jsonl", "-t", "exqa", "--context-col", "text", *SMALL])
    assert_one_line_error(result, 2, "rows.jsonl", "'text'", "'body'", "'id'", "--context-col")


# --- model files -------------------------------------------------------------------------------


def _truncated_toy(path: Path, fraction: float) -> Path:
    data = toy_model_path().read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.mark.parametrize(
    "make, needles",
    [
        (lambda folder: folder / "absent.gguf", ["absent.gguf", "does not exist"]),
        (lambda folder: folder, ["is a folder"]),
        (
            lambda folder: _write(folder / "weights.gguf", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "),
            ["weights.gguf", "not a GGUF"],
        ),
        (lambda folder: _write(folder / "empty.gguf", b""), ["empty.gguf", "empty"]),
        (lambda folder: _truncated_toy(folder / "half.gguf", 0.5), ["half.gguf", "truncated"]),
        (lambda folder: _truncated_toy(folder / "most.gguf", 0.98), ["most.gguf", "truncated"]),
        (lambda folder: _truncated_toy(folder / "head.gguf", 0.0005), ["head.gguf", "truncated"]),
        (lambda folder: write_small_gguf(folder / "gpt2.gguf", "gpt2", True), ["'gpt2'", "'llama'"]),
        (lambda folder: write_small_gguf(folder / "bare.gguf", "llama", False), ["bare.gguf", "no tokenizer"]),
    ],
    ids=[
        "missing",
        "folder",
        "not-gguf",
        "empty",
        "truncated-half",
        "truncated-tail",
        "truncated-header",
        "other-architecture",
        "no-tokenizer",
    ],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["generate", "dry-run"])
def test_a_bad_model_file_is_refused_before_anything_is_written(tmp_path, make, needles, dry_run):
    models = tmp_path / "bad-models"
    models.mkdir()
    model = make(models)
    extra = ["--dry-run"] if dry_run else ["-o", "out.jsonl"]
    result = invoke(["generate", "good.txt", "-t", "exqa", "--model", str(model), "--max-tokens", "64", *extra])
    assert_one_line_error(result, 2, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad-models", "good.txt"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- output ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output, needle",
    [
        ("good.txt/out.jsonl", "good.txt"),  # the parent is a regular file
        ("no/such/folder/out.jsonl", "no/such/folder"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_model_loads(tmp_path, output, needle):
    result = invoke(["generate", "good.txt", "-t", "exqa", "-o", output, *SMALL])
    assert_one_line_error(result, 2, needle, "-o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt"]


def test_an_output_that_is_a_folder_is_refused_even_with_overwrite(tmp_path):
    (tmp_path / "results").mkdir()
    result = invoke(["generate", "good.txt", "-t", "exqa", "-o", "results", "--overwrite", *SMALL])
    assert_one_line_error(result, 2, "results")


# --- tracebacks: only on request, in a real process --------------------------------------------


def _bonito_lite(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("BONITO_LITE_DEBUG", "BONITO_LITE_MODEL")}
    return subprocess.run(
        [sys.executable, "-m", "bonito_lite", *args],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, needle",
    [
        (["generate", "absent.txt", "-t", "exqa", "--model", "toy"], "absent.txt"),
        (["generate", "good.txt", "-t", "exqa", "--model", "half.gguf"], "half.gguf"),
        (["generate", "good.txt", "-t", "exqa", "--model", "toy", "--ctx-size", "100"], "--ctx-size"),
    ],
    ids=["missing-input", "truncated-model", "window"],
)
def test_a_real_process_prints_one_line_and_exits_2(tmp_path, args, needle):
    _truncated_toy(tmp_path / "half.gguf", 0.5)
    proc = _bonito_lite(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line and not line.startswith(TOY_NOTICE)]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], proc.stderr


def test_debug_shows_the_traceback(tmp_path):
    for proc in (
        _bonito_lite("--debug", "generate", "absent.txt", "-t", "exqa", "--model", "toy", cwd=tmp_path),
        _bonito_lite("generate", "absent.txt", "-t", "exqa", "--model", "toy", cwd=tmp_path, BONITO_LITE_DEBUG="1"),
    ):
        # The same message and exit status as without it: a script sees no difference.
        assert proc.returncode == 2
        assert "Traceback (most recent call last)" in proc.stderr
        assert "InputError: absent.txt: no such file or folder." in proc.stderr
        assert proc.stderr.rstrip().endswith("\nError: absent.txt: no such file or folder.")
    result = invoke(["--debug", "generate", "absent.txt", "-t", "exqa", "--model", "toy"])
    assert result.exit_code == 2 and "InputError" in result.stderr


def test_a_python_without_a_needed_library_is_told_in_one_line_to_install_bonito_lite(tmp_path):
    # As a Python that never installed bonito-lite's dependencies runs it from a checkout:
    # gguf is not importable, and the generate command needs it for its model file.
    hide_gguf = "import sys; sys.modules['gguf'] = None; from bonito_lite.cli import main; main()"
    (tmp_path / "notes.txt").write_text("The clinic opens at 7:30.\n", encoding="utf-8")
    args = ["generate", "notes.txt", "-t", "exqa", "--model", "toy"]
    environment = {k: v for k, v in os.environ.items() if k not in ("BONITO_LITE_DEBUG", "BONITO_LITE_MODEL")}
    run = functools.partial(subprocess.run, cwd=tmp_path, env=environment, capture_output=True, text=True)
    proc = run([sys.executable, "-c", hide_gguf, *args], timeout=300)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line and not line.startswith(TOY_NOTICE)]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "'gguf' is not installed in this Python" in proc.stderr and "pip install" in proc.stderr
    # --debug shows where it came from.
    debug = run([sys.executable, "-c", hide_gguf, "--debug", *args], timeout=300)
    assert debug.returncode != 0 and "ModuleNotFoundError" in debug.stderr


def test_the_bare_command_shows_its_help_not_a_traceback(tmp_path):
    proc = _bonito_lite(cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert "Usage: bonito-lite [OPTIONS] COMMAND" in proc.stdout + proc.stderr
    assert "Commands:" in proc.stdout + proc.stderr


@pytest.mark.parametrize("value, debug", [("false", False), ("no", False), ("0", False), ("1", True), ("yes", True)])
def test_the_debug_variable_reads_false_words_as_off(tmp_path, value, debug):
    proc = _bonito_lite("generate", "absent.txt", "-t", "exqa", "--model", "toy", cwd=tmp_path, BONITO_LITE_DEBUG=value)
    assert proc.returncode != 0
    assert ("Traceback (most recent call last)" in proc.stderr) is debug, proc.stderr


def test_a_model_file_the_system_will_not_open_is_one_line(tmp_path, monkeypatch):
    # As root a chmod 000 file still opens, so the refusal is made where the file is opened.
    from bonito_lite.models import info

    model = tmp_path / "locked.gguf"
    model.write_bytes(toy_model_path().read_bytes())
    real_open = Path.open

    def refusing_open(self, *args, **kwargs):
        if self.name == "locked.gguf":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    info._read_model_info.cache_clear()
    result = invoke(["inspect", str(model)])
    assert_one_line_error(result, 2, "locked.gguf", "cannot be read (permission denied)")


def test_an_os_error_the_library_did_not_expect_is_still_one_line(tmp_path, monkeypatch):
    # A folder that cannot be listed makes Path.is_dir raise on Python 3.11; any such refusal
    # reaches the user as one line naming the path, with the traceback behind --debug.
    from bonito_lite.inputs import documents

    def refusing_expand(given):
        raise PermissionError(13, "Permission denied", given)

    monkeypatch.setattr(documents, "_expand", refusing_expand)
    result = invoke(["generate", "locked/notes.txt", "-t", "exqa", *SMALL])
    assert_one_line_error(result, 2, "locked/notes.txt: permission denied; check that you may read it")
    result = invoke(["--debug", "generate", "locked/notes.txt", "-t", "exqa", *SMALL])
    assert result.exit_code == 2 and "PermissionError" in result.stderr


def test_a_model_named_by_the_environment_that_is_not_there_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("BONITO_LITE_MODEL", "models/nope.gguf")
    result = invoke(["generate", "good.txt", "-t", "exqa", "--max-tokens", "16"])
    assert_one_line_error(result, 2, "model file models/nope.gguf (from $BONITO_LITE_MODEL) does not exist")


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(in_tmp, overwrite):
    (in_tmp / "notes.md").write_text(GOOD, encoding="utf-8")
    for output in ("good.txt", "./good.txt"):
        result = invoke(["generate", "good.txt", "-t", "exqa", *SMALL, "-o", output, *overwrite])
        assert_one_line_error(result, 2, "good.txt is an input; choose another -o")
    result = invoke(["generate", "good.txt", "notes.md", "-t", "exqa", *SMALL, "-o", "notes.md", *overwrite])
    assert_one_line_error(result, 2, "notes.md is an input")
    assert (in_tmp / "good.txt").read_text(encoding="utf-8") == GOOD
    assert (in_tmp / "notes.md").read_text(encoding="utf-8") == GOOD


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_too_many_new_tokens_for_the_models_context_is_told_what_to_lower(in_tmp, dry_run):
    (in_tmp / "long.txt").write_text(GOOD.strip() * 3, encoding="utf-8")  # a prompt over 48 tokens
    base = ["generate", "long.txt", "-t", "exqa", "--model", "toy", "--overwrite", *dry_run]
    # The toy reads 2,048 tokens: a longer --ctx-size is not there to raise to.
    result = invoke([*base, "--max-tokens", "2000", "--ctx-size", "4096"])
    error = assert_one_line_error(result, 2, "does not fit 2048 tokens with --max-tokens 2000", warnings_allowed=True)
    assert error.endswith("lower --max-tokens or use shorter passages (--chunk-tokens)")
    result = invoke([*base, "--max-tokens", "5000"])
    assert_one_line_error(
        result, 2, "--max-tokens 5000 leaves no room for a prompt in 2048 tokens", warnings_allowed=True
    )


def test_a_vocabulary_without_byte_tokens_is_refused_before_llama_cpp_aborts_on_it(in_tmp):
    # Its header reads well, but llama.cpp would stop the whole process tokenizing with it.
    write_small_gguf(in_tmp / "small.gguf", "llama", with_tokenizer=True)
    for extra in (["--dry-run"], []):
        result = invoke(["generate", "good.txt", "-t", "exqa", "--model", "small.gguf", *extra])
        assert_one_line_error(result, 2, "small.gguf's vocabulary lacks 256 of the 256 byte tokens")


def test_the_advice_for_a_prompt_that_does_not_fit_names_only_what_can_help():
    from bonito_lite.engines.local import prompt_room_error
    from bonito_lite.models.info import read_model_info

    toy = read_model_info(toy_model_path())  # reads at most 2,048 tokens

    def advice(prompt, ctx, new):
        error = prompt_room_error(prompt, ctx, new, toy)
        return None if error is None else str(error).rsplit("; ", 1)[1]

    assert advice(100, 512, 400) is None
    assert advice(133, 2048, 2000) == "lower --max-tokens or use shorter passages (--chunk-tokens)"
    assert advice(100, 512, 600) == "raise --ctx-size (up to 2048) or lower --max-tokens"
    assert (
        advice(600, 512, 256)
        == "raise --ctx-size (up to 2048), lower --max-tokens or use shorter passages (--chunk-tokens)"
    )
    # Without a number of new tokens (the Python API's None), there is none to lower.
    assert advice(3000, 2048, None) == "use shorter passages (--chunk-tokens)"


def test_a_folder_where_the_outputs_rejects_file_goes_is_refused_before_generating(in_tmp):
    (in_tmp / "out.rejected.jsonl").mkdir()
    result = invoke(["generate", "good.txt", "-t", "exqa", *SMALL, "-o", "out.jsonl"])
    assert_one_line_error(result, 2, "out.rejected.jsonl is a folder, where the output's out.rejected.jsonl goes")
    assert not (in_tmp / "out.jsonl").exists()


@pytest.mark.slow
def test_python_m_in_a_checkout_without_the_libraries_runs_in_the_checkouts_venv(tmp_path):
    # A checkout: pyproject.toml, the package, and a .venv whose Python has the libraries
    # (this test's own, linked). The Python running `-m bonito_lite` lacks gguf.
    checkout = tmp_path / "bonito-lite"
    shutil.copytree(
        Path(bonito_lite.__file__).parent, checkout / "bonito_lite", ignore=shutil.ignore_patterns("__pycache__")
    )
    (checkout / "pyproject.toml").write_text('[project]\nname = "bonito-lite"\n', encoding="utf-8")
    venv = checkout / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    shutil.copyfile(Path(sys.prefix) / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")
    (tmp_path / "notes.txt").write_text("The clinic opens at 7:30 on weekdays.\n", encoding="utf-8")
    lacking = (
        "import runpy, sys; sys.modules['gguf'] = None; sys.path.insert(0, sys.argv.pop(1)); "
        "runpy.run_module('bonito_lite', run_name='__main__', alter_sys=True)"
    )
    args = ["generate", "notes.txt", "-t", "exqa", "--model", "toy", "--dry-run"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BONITO_LITE_")}
    proc = subprocess.run(
        [sys.executable, "-c", lacking, str(checkout), *args],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"lacks 'gguf'; running in the checkout's {checkout / '.venv' / 'bin' / 'python'}" in proc.stderr
    assert "notes.txt #0 [0:37] The clinic opens at 7:30" in proc.stdout
    # Handed on once only: a .venv that lacks the library too ends in the one-line error.
    proc = subprocess.run(
        [sys.executable, "-c", lacking, str(checkout), *args],
        cwd=tmp_path, env={**environment, "BONITO_LITE_CHECKOUT_VENV": "1"}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1 and "'gguf' is not installed in this Python" in proc.stderr
    assert "running in the checkout" not in proc.stderr


def test_the_libraries_python_m_checks_for_are_the_projects_dependencies():
    import re

    from bonito_lite.__main__ import NEEDED

    pyproject = (Path(bonito_lite.__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    listed = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    names = {name.lower().replace("-", "_") for name in re.findall(r'^\s*"([A-Za-z0-9_.-]+)', listed, re.M)}
    assert len(names) >= 10
    assert {"llama_cpp" if name == "llama_cpp_python" else name for name in names} == set(NEEDED)
