"""How a busy machine slows ``bonito-lite generate``: threads and OpenMP waiting, with and without a CPU burner.

Each configuration runs the same ``generate`` command in a subprocess, first on the machine
as it is, then with a burner (a Python busy loop) pinned to one CPU. Configurations
alternate within each round, so that a change in the machine's other load touches them
alike; the ratios compare runs of the same round and condition.

    python scripts/bench_threads.py --model toy --rounds 2
    python scripts/bench_threads.py --model m1b/random-1.1b.Q4_K_M.gguf \\
        --args "-t qg -t exqa --limit 2 --num-samples 2 --max-tokens 32"

Configurations (``--configs``):

- ``default``: no ``--threads``, the environment as bonito-lite sets it;
- ``threads-1``: ``--threads 1``;
- ``all-cores``: ``--threads`` = every CPU this process may use;
- ``all-cores-spin``: all CPUs, with OpenMP's waiting as it was before bonito-lite set it:
  ``GOMP_SPINCOUNT=300000``, libgomp's own default (bonito-lite then changes nothing);
- ``all-cores-spin=N``: all CPUs, ``GOMP_SPINCOUNT=N``, passive policy.

Prints one JSON line per run, then a Markdown table: wall and CPU time (user + system of the
child) and each one's ratio to ``threads-1`` of the same round and condition.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_notes.md"
# The environment variables through which libgomp (llama-cpp-python's OpenMP) waits.
OMP_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def configuration(name: str) -> tuple[list[str], dict[str, str]]:
    """Extra arguments and OpenMP variables of a configuration (any others are unset)."""
    n = str(len(allowed_cpus()))
    if name == "default":
        return [], {}
    if name == "threads-1":
        return ["--threads", "1"], {}
    if name == "all-cores":
        return ["--threads", n], {}
    if name == "all-cores-spin":
        return ["--threads", n], {"GOMP_SPINCOUNT": "300000"}
    if name.startswith("all-cores-spin="):
        return ["--threads", n], {"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": name.split("=", 1)[1]}
    raise SystemExit(f"unknown configuration {name!r}")


class Burner:
    """A Python busy loop pinned to one CPU, for the "loaded" condition."""

    def __init__(self, cpu: int) -> None:
        code = f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"
        self.process = subprocess.Popen([sys.executable, "-c", code])

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def run_once(model: str, args: list[str], extra: list[str], env_changes: dict[str, str], output: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OMP_VARIABLES}
    env.update(env_changes)
    command = [
        sys.executable,
        "-m",
        "bonito_lite",
        "generate",
        str(SAMPLE),
        "--model",
        model,
        "--quiet",
        "--overwrite",
        "-o",
        str(output),
        *args,
        *extra,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy", help="what --model takes (default: the bundled toy)")
    parser.add_argument("--args", default="-t all", help="generate's other arguments (default: %(default)s)")
    parser.add_argument(
        "--configs",
        default="default,threads-1,all-cores,all-cores-spin",
        help="comma-separated configurations (see above)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--burner-cpu",
        type=int,
        default=None,
        help="CPU the burner is pinned to (default: the last one this process may use)",
    )
    parser.add_argument("--conditions", default="idle,burner", help="idle, burner or both")
    options = parser.parse_args()
    configs = options.configs.split(",")
    burner_cpu = options.burner_cpu if options.burner_cpu is not None else allowed_cpus()[-1]
    args = shlex.split(options.args)
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "bench.jsonl"
        for condition in options.conditions.split(","):
            burner = Burner(burner_cpu) if condition == "burner" else None
            try:
                time.sleep(1 if burner else 0)
                for round_number in range(options.rounds):
                    for name in configs:
                        extra, env_changes = configuration(name)
                        row = {
                            "condition": condition,
                            "round": round_number,
                            "config": name,
                            "utc": time.strftime("%H:%M:%S", time.gmtime()),
                            **run_once(options.model, args, extra, env_changes, output),
                        }
                        print(json.dumps(row), flush=True)
                        results.append(row)
            finally:
                if burner:
                    burner.stop()
    print_table(results, configs)


def print_table(results: list[dict], configs: list[str]) -> None:
    print(f"\nMachine: {len(allowed_cpus())} CPUs allowed ({os.cpu_count()} online); model runs above.")
    print("| condition | configuration | wall (s) | CPU (s) | wall / threads-1 | CPU / threads-1 | load |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for condition in dict.fromkeys(r["condition"] for r in results):
        for name in configs:
            walls, cpus, wall_ratios, cpu_ratios, loads = [], [], [], [], []
            for row in results:
                if row["condition"] != condition or row["config"] != name:
                    continue
                base = next(
                    (
                        b
                        for b in results
                        if b["condition"] == condition and b["round"] == row["round"] and b["config"] == "threads-1"
                    ),
                    None,
                )
                walls.append(row["wall_s"])
                cpus.append(row["cpu_s"])
                loads.append(row["load"])
                if base:
                    wall_ratios.append(row["wall_s"] / base["wall_s"])
                    cpu_ratios.append(row["cpu_s"] / base["cpu_s"])
            if not walls:
                continue

            def median(values: list[float], digits: int = 2) -> str:
                return f"{statistics.median(values):.{digits}f}" if values else ""

            print(
                f"| {condition} | {name} | {median(walls, 1)} | {median(cpus, 1)} | "
                f"{median(wall_ratios)} | {median(cpu_ratios)} | {median(loads, 1)} |"
            )


if __name__ == "__main__":
    main()
