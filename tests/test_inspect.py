"""``bonito-lite inspect``: a model file described from its header, on real converted GGUFs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bonito_lite.models.metadata import IS_BONITO, PROMPT_TEMPLATE_KEY, TASK_TYPES_KEY
from bonito_lite.models.paths import toy_model_path
from bonito_lite.prompt import PROMPT_TEMPLATE
from bonito_lite.task_types import TASK_TYPES

from cli_helpers import run_cli as run
from model_factory import BONITO_V1_SHAPE, write_small_gguf, write_sparse_f16_gguf

# The tiny checkpoint of conftest.py: embeddings and head (2 x 32000 x 256), 2 layers of
# attention (q, o: 256x256; k, v: 128x256), FFN (3 x 256x512) and norms, final norm.
TINY_PARAMETERS = 2 * 32000 * 256 + 2 * (256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 512 + 2 * 256) + 256


def inspect_json(*args: str, **kwargs) -> dict:
    result = run(["inspect", *args, "--json"], **kwargs)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.mark.parametrize(
    "fixture, quant_type",
    [("tiny_gguf_f32", "F32"), ("tiny_gguf_q8_0", "Q8_0"), ("tiny_gguf_q4_k_m", "Q4_K_M")],
)
def test_json_describes_each_converted_model(request, fixture: str, quant_type: str):
    path: Path = request.getfixturevalue(fixture)
    described = inspect_json(str(path))
    assert described["quant_type"] == quant_type
    assert described["parameters"] == TINY_PARAMETERS
    assert described["file_size_bytes"] == path.stat().st_size
    assert described["bits_per_weight"] == pytest.approx(path.stat().st_size * 8 / TINY_PARAMETERS, abs=1e-3)
    assert (described["architecture"], described["context_length"], described["vocab_size"]) == ("llama", 32768, 32000)
    assert (
        described["embedding_length"],
        described["layers"],
        described["heads"],
        described["kv_heads"],
        described["head_size"],
    ) == (256, 2, 4, 2, 64)
    bonito = described["bonito"]
    assert bonito["is_bonito"] is True and bonito["toy"] is False and bonito["source_revision"] is None
    assert bonito["prompt_template"] == PROMPT_TEMPLATE and bonito["prompt_template_matches"] is True
    assert [t["alias"] for t in bonito["task_types"]] == [t.alias for t in TASK_TYPES]
    assert [t["short"] for t in bonito["task_types"]] == [t.short for t in TASK_TYPES]


def test_table_names_quant_type_and_bonito_metadata(tiny_gguf_q4_k_m: Path):
    result = run(["inspect", str(tiny_gguf_q4_k_m)])
    assert result.exit_code == 0
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert lines["quant type"].startswith("Q4_K_M (")
    assert lines["parameters"] == f"17.56 M ({TINY_PARAMETERS:,})"
    assert lines["shape"] == "embedding 256, 2 layers, 4 heads (2 KV heads of 64)"
    assert lines["Bonito metadata"] == "yes, no source revision"
    assert lines["prompt template"] == repr(PROMPT_TEMPLATE)
    assert lines["task types"].startswith("all 16")


def test_the_toy_by_name():
    described = inspect_json("toy")
    assert described["path"] == str(toy_model_path())
    assert described["quant_type"] == "Q8_0"
    assert described["bonito"]["toy"] is True and described["bonito"]["is_bonito"] is True
    assert "the toy demo model" in run(["inspect", "toy"]).stdout


@pytest.mark.slow
def test_model_from_environment_and_from_models_folder(tiny_gguf_q8_0: Path, tmp_path: Path, monkeypatch):
    assert inspect_json(env={"BONITO_LITE_MODEL": str(tiny_gguf_q8_0)})["quant_type"] == "Q8_0"
    (tmp_path / "models").mkdir()
    shutil.copyfile(tiny_gguf_q8_0, tmp_path / "models" / "only.gguf")
    assert inspect_json()["path"] == str(Path("models") / "only.gguf")


def test_a_gguf_without_bonito_metadata(tmp_path: Path):
    path = write_small_gguf(tmp_path / "plain.gguf", "llama", with_tokenizer=True)
    described = inspect_json(str(path))
    assert described["bonito"]["is_bonito"] is False
    assert described["bonito"]["prompt_template"] is None and described["bonito"]["task_types"] == []
    text = run(["inspect", str(path)]).stdout
    assert "none (no bonito.* keys" in text and "none stored" in text


def test_a_foreign_template_and_unknown_task_type_are_pointed_out(tmp_path: Path):
    path = write_small_gguf(
        tmp_path / "odd.gguf",
        "llama",
        with_tokenizer=True,
        metadata={
            IS_BONITO: True,
            PROMPT_TEMPLATE_KEY: "### {task_type}\n{context}\n",
            TASK_TYPES_KEY: ["extractive question answering", "poetry"],
        },
    )
    described = inspect_json(str(path))
    assert described["bonito"]["prompt_template_matches"] is False
    assert described["bonito"]["task_types"] == [
        {"full_name": "extractive question answering", "short": "exqa", "alias": "extractive_qa"},
        {"full_name": "poetry", "short": None, "alias": None},
    ]
    text = run(["inspect", str(path)]).stdout
    assert "differs from bonito-lite's" in text
    assert "2: extractive_qa, poetry (unknown)" in text


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "not a GGUF model file (empty)"),
        (b"PK\x03\x04" + bytes(100), "not a GGUF model file"),
    ],
)
def test_not_a_gguf_is_a_one_line_error(tmp_path: Path, content: bytes, expected: str):
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    result = run(["inspect", str(path)])
    assert result.exit_code == 2
    assert expected in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.slow
def test_truncated_gguf_is_a_one_line_error(tiny_gguf_q8_0: Path, tmp_path: Path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf_q8_0.read_bytes()[: tiny_gguf_q8_0.stat().st_size // 2])
    result = run(["inspect", str(cut)])
    assert result.exit_code == 2
    assert "truncated" in result.stderr and result.stderr.count("\n") == 1


def test_missing_file(tmp_path: Path):
    result = run(["inspect", str(tmp_path / "absent.gguf")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


@pytest.mark.slow
def test_a_full_size_model_is_described_without_reading_its_tensors(tmp_path: Path):
    # bonito-v1's shape in F16: 14.5 GB, its tensor data a hole in a sparse file. Reading
    # the tensors would bring 14.5 GB of (zero) pages into the process; the header is < 1 MB.
    path = write_sparse_f16_gguf(tmp_path / "bonito-shaped.F16.gguf", **BONITO_V1_SHAPE)
    assert path.stat().st_size > 14_000_000_000
    # The peak of the child's own address space: Linux's VmHWM. (ru_maxrss would not do there:
    # it keeps the peak of the process before exec, here the whole test session's.)
    probe = (
        "import json, resource, sys\n"
        "from click.testing import CliRunner\n"
        "from bonito_lite.cli import cli\n"
        "out = CliRunner().invoke(cli, ['inspect', sys.argv[1], '--json']).stdout\n"
        "try:\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    peak = int(status.split()[0]) * 1024\n"
        "except OSError:\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS: bytes\n"
        "print(json.dumps({'described': json.loads(out), 'peak': peak}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    described = result["described"]
    assert described["parameters"] == 7_241_732_096 and described["quant_type"] == "F16"
    assert described["bonito"]["source_revision"] == "0123abc"
    assert result["peak"] < 1_000_000_000


def test_no_model_found_says_how_to_name_one_to_inspect(tiny_gguf_q8_0: Path, tmp_path: Path):
    # inspect takes the model as an argument, not as --model: the hint must work here too.
    result = run(["inspect"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "inspect toy" in result.stderr
    (tmp_path / "models").mkdir()
    for name in ("a.gguf", "b.gguf"):
        shutil.copyfile(tiny_gguf_q8_0, tmp_path / "models" / name)
    result = run(["inspect"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "inspect models/a.gguf" in result.stderr
