"""What a run plans before it loads: sequences that fit in memory with headroom, threads from idle CPUs.

Memory and CPU load are crafted numbers handed to the planning functions (or patched in
where the engine asks for them), so the machine the tests run on does not matter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bonito_lite.engines import local as engine_module, resources
from bonito_lite.engines.generation import EngineSettings
from bonito_lite.engines.local import resolve_settings
from bonito_lite.engines.resources import MemoryState, default_threads, fit_parallel, memory_needed
from bonito_lite.errors import ResourceError
from bonito_lite.models.info import ModelInfo, read_model_info
from bonito_lite.models.paths import toy_model_path

GB = 1_000_000_000
GIB = 2**30

# bonito-v1 as an F16 GGUF: Mistral-7B's shape, 14.5 GB of weights.
BONITO_F16 = ModelInfo(
    path=Path("bonito-v1.F16.gguf"),
    file_size=14_484_000_000,
    architecture="llama",
    name="bonito-v1",
    parameter_count=7_241_732_096,
    file_type="F16",
    context_length=32768,
    block_count=32,
    embedding_length=4096,
    head_count=32,
    head_count_kv=8,
    key_length=128,
    value_length=128,
    vocab_size=32000,
)
CTX = 704  # generate's default context per sequence


# -- memory ----------------------------------------------------------------------------------


def test_headroom_is_a_tenth_of_the_machine_and_at_least_1_gib():
    assert MemoryState(available=0, total=23 * GB).headroom == 2.3 * GB
    assert MemoryState(available=0, total=64 * GB).headroom == 6.4 * GB
    assert MemoryState(available=0, total=8 * GB).headroom == GIB


def test_a_cached_model_is_counted_once_and_headroom_is_left_for_the_system():
    # A 23 GB machine right after the model file was hashed: its 14.5 GB sit in the page
    # cache, which MemAvailable counts as available. The model needs them; the caches get
    # what is left after the model and the headroom, and not the model's pages again.
    memory = MemoryState(available=22 * GB, total=23 * GB)
    fitting = fit_parallel(BONITO_F16, CTX, 256, memory)
    per_sequence = BONITO_F16.kv_bytes_per_token() * CTX
    assert per_sequence == 92_274_688
    budget = 22 * GB - 2.3 * GB - BONITO_F16.file_size - 2**28  # runtime reserve: 256 MiB
    assert fitting == int(budget // per_sequence) == 53
    assert memory_needed(BONITO_F16, CTX, fitting) + memory.headroom <= memory.available
    assert memory_needed(BONITO_F16, CTX, fitting + 1) + memory.headroom > memory.available


def test_a_request_that_fits_with_headroom_is_kept():
    memory = MemoryState(available=22 * GB, total=23 * GB)
    assert fit_parallel(BONITO_F16, CTX, 32, memory) == 32


def test_the_refusal_says_how_much_stays_free():
    memory = MemoryState(available=15 * GB, total=16 * GB)  # the weights fit, the headroom does not
    with pytest.raises(ResourceError) as error:
        fit_parallel(BONITO_F16, CTX, 32, memory)
    message = str(error.value)
    assert "\n" not in message
    assert "needs 14.8 GB" in message and "1.6 GB stays free for the system" in message
    assert "15.0 GB is available" in message


def test_the_lowered_number_of_sequences_reaches_the_summary_and_the_manifest(tmp_path, monkeypatch):
    import json

    from bonito_lite.run import passage_ctx_size

    from cli_helpers import run_cli

    toy = read_model_info(toy_model_path())
    ctx = passage_ctx_size(chunk_tokens=64, max_tokens=32)
    fits_three = MemoryState(available=memory_needed(toy, ctx, 3) + GIB + 1, total=8 * GB)
    monkeypatch.setattr(engine_module, "memory_state", lambda: fits_three)
    text = tmp_path / "notes.txt"
    text.write_text("The clinic opens at 7:30 on weekdays and closes at 17:30.\n")
    output = tmp_path / "out.jsonl"
    result = run_cli(
        [
            "generate",
            str(text),
            "-t",
            "qg",
            "--model",
            "toy",
            "--chunk-tokens",
            "64",
            "--max-tokens",
            "32",
            "--threads",
            "1",
            "-o",
            str(output),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "running 3 sequences at a time" in result.output  # the warning, before the run
    assert "on CPU, 3 sequences at a time." in result.output  # the summary
    assert json.loads(output.with_name("out.jsonl.manifest.json").read_text())["sequences"] == 3


# -- threads ---------------------------------------------------------------------------------


@pytest.fixture
def physical_cores(monkeypatch):
    """Pretend the machine has this many physical cores."""

    def pretend(n: int) -> None:
        monkeypatch.setattr(resources.psutil, "cpu_count", lambda logical=True: n if not logical else 64)

    pretend(64)
    return pretend


@pytest.mark.parametrize(
    ("busy", "cpus", "threads"),
    [
        ([2.0, 5.0], [0, 1], 2),  # an idle laptop: every core
        ([100.0, 3.0], [0, 1], 1),  # another program holds one of two cores
        ([100.0, 100.0], [0, 1], 1),  # all busy: still one thread
        ([60.0, 60.0, 10.0, 0.0], [0, 1, 2, 3], 3),  # idle capacity 2.7 CPUs
        ([0.0] * 8, [0, 1, 2, 3], 4),  # only the CPUs this process may use
        ([0.0, 0.0, 100.0, 100.0], [2, 3], 1),  # ... and how busy those are
    ],
)
def test_threads_are_the_idle_cpus_this_process_may_use(busy, cpus, threads, physical_cores):
    assert default_threads(busy, cpus) == threads


def test_threads_stop_at_the_physical_cores(physical_cores):
    physical_cores(4)
    assert default_threads([0.0] * 8, list(range(8))) == 4


def test_unknown_load_uses_every_usable_cpu(physical_cores, monkeypatch):
    def unavailable():
        raise OSError("no /proc/stat")

    monkeypatch.setattr(resources, "cpu_busy_percent", unavailable)
    assert default_threads(cpus=[0, 1, 2]) == 3


def test_the_engine_takes_the_idle_cpus_unless_threads_are_given(physical_cores, monkeypatch):
    info = read_model_info(toy_model_path())
    monkeypatch.setattr(resources, "usable_cpus", lambda: [0, 1])
    monkeypatch.setattr(resources, "cpu_busy_percent", lambda: [100.0, 0.0])
    assert resolve_settings(EngineSettings(), info)[0].threads == 1
    monkeypatch.setattr(resources, "cpu_busy_percent", lambda: [0.0, 0.0])
    assert resolve_settings(EngineSettings(), info)[0].threads == 2
    assert resolve_settings(EngineSettings(threads=2), info)[0].threads == 2


def test_more_threads_than_cpus_are_cut_to_the_cpus_with_a_warning(monkeypatch, caplog):
    info = read_model_info(toy_model_path())
    monkeypatch.setattr(resources, "usable_cpus", lambda: [0, 1])
    assert resolve_settings(EngineSettings(threads=999), info)[0].threads == 2
    assert "--threads 999 is more than the 2 CPUs this process may use; using 2" in caplog.text


def test_the_dry_run_estimate_assumes_the_threads_it_names_and_no_gain_beyond_two(monkeypatch):
    from bonito_lite.run import GenerateOptions, GenerateRun

    sample = Path(__file__).resolve().parents[1] / "examples" / "sample_notes.md"

    def estimate(threads):
        options = GenerateOptions(
            inputs=(str(sample),), task_types=("exqa",), model="toy", engine=EngineSettings(threads=threads)
        )
        return GenerateRun(options).dry_run()

    monkeypatch.setattr("bonito_lite.run.usable_cpus", lambda: list(range(8)))
    one, two, eight = estimate(1), estimate(2), estimate(8)
    assert (one.threads, two.threads, eight.threads) == (1, 2, 8)
    assert one.estimated_seconds > two.estimated_seconds  # one thread computes at half the speed
    assert eight.estimated_seconds == two.estimated_seconds
    monkeypatch.setattr("bonito_lite.run.default_threads", lambda: 1)
    assert estimate(None).threads == 1
    # As the engine runs: no more threads than CPUs.
    monkeypatch.setattr("bonito_lite.run.usable_cpus", lambda: [0, 1])
    assert estimate(8).threads == 2


def test_the_dry_run_says_what_its_estimate_assumes():
    from cli_helpers import run_cli

    sample = Path(__file__).resolve().parents[1] / "examples" / "sample_notes.md"
    result = run_cli(["generate", str(sample), "-t", "exqa", "--model", "toy", "--dry-run", "--threads", "2"])
    assert result.exit_code == 0
    assert (
        "min on this CPU with 2 threads and nothing else running (upper bound: every example at "
        "--max-tokens); other programs using the CPU make it longer."
    ) in result.output


# -- how llama.cpp's threads wait --------------------------------------------------------------

# libgomp prints the settings it read as it loaded (OMP_DISPLAY_ENV); the script then prints
# the two variables as the importing process sees them afterwards.
_SHOW_OPENMP = (
    "import os; import bonito_lite.engines.llama_handles; "
    "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
)


def _openmp_settings_seen(**env: str) -> tuple[str, str]:
    """(what libgomp read, e.g. "PASSIVE 1000"; the variables after the import)."""
    import os
    import re
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    proc = subprocess.run(
        [sys.executable, "-c", _SHOW_OPENMP],
        env={**clean, **env, "OMP_DISPLAY_ENV": "VERBOSE"},
        capture_output=True,
        text=True,
        check=True,
    )
    policy = re.search(r"OMP_WAIT_POLICY = '(\w+)'", proc.stderr).group(1)
    spin = re.search(r"GOMP_SPINCOUNT = '(\d+)'", proc.stderr).group(1)
    return f"{policy} {spin}", proc.stdout.strip()


def test_llama_cpp_threads_are_set_to_sleep_after_a_short_spin():
    read, after = _openmp_settings_seen()
    assert read == "PASSIVE 1000"
    assert after == "None None"  # set for libgomp's load only: the caller's environment is untouched


def test_wait_settings_the_user_made_are_kept():
    read, after = _openmp_settings_seen(OMP_WAIT_POLICY="active")
    assert read.startswith("ACTIVE ") and after == "active None"  # libgomp's own spin for active
    read, after = _openmp_settings_seen(GOMP_SPINCOUNT="300000")
    assert read.endswith(" 300000") and after == "None 300000"
