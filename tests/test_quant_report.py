"""``bonito-lite quant-report``: quantized GGUFs against their F32 reference, through llama.cpp."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest

from bonito_lite.engines import llama_handles
from bonito_lite.errors import InputError, ModelFileError
from bonito_lite.models import quant_report as qr
from bonito_lite.prompt import build_prompt
from bonito_lite.task_types import TASK_TYPES

from cli_helpers import run_cli as run
from model_factory import write_small_gguf


def report_json(model: Path, reference: Path, *extra: str) -> dict:
    result = run(["quant-report", str(model), "--reference", str(reference), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


pytestmark = pytest.mark.usefixtures("in_tmp")


def test_prompts_are_bonito_prompts_over_the_bundled_passages():
    passages = qr.bundled_passages()
    assert len(passages) == len(TASK_TYPES)
    prompts = qr.report_prompts()
    assert prompts == [build_prompt(t.full_name, p) for t, p in zip(TASK_TYPES, passages)]
    assert qr.report_prompts(3) == prompts[:3]


@pytest.mark.slow
def test_a_model_against_itself_drifts_by_nothing(tiny_gguf_f32: Path):
    report = report_json(tiny_gguf_f32, tiny_gguf_f32, "--passages", "2")
    assert report["prompts"] == 2 and report["positions"] > 200 and report["vocab_size"] == 32000
    assert abs(report["mean_kl"]) < 1e-9 and abs(report["max_kl"]) < 1e-9
    assert report["top1_agreement"] == 1.0
    assert report["perplexity_ratio"] == pytest.approx(1.0, abs=1e-12)
    assert report["reference_type"] == report["model_type"] == "F32"


@pytest.mark.slow
def test_q8_0_stays_closer_to_the_reference_than_q4_k_m(tiny_gguf_f32, tiny_gguf_q8_0, tiny_gguf_q4_k_m):
    q8 = report_json(tiny_gguf_q8_0, tiny_gguf_f32, "--passages", "2")
    q4 = report_json(tiny_gguf_q4_k_m, tiny_gguf_f32, "--passages", "2")
    assert q8["positions"] == q4["positions"]
    assert 0 < q8["mean_kl"] < q4["mean_kl"]
    assert q8["top1_agreement"] > q4["top1_agreement"]
    assert abs(np.log(q8["perplexity_ratio"])) < abs(np.log(q4["perplexity_ratio"])) + 1e-3
    for report in (q8, q4):
        assert report["median_kl"] <= report["p99_kl"] <= report["max_kl"]
        assert report["verdict"].startswith(report["model_type"] + ": mean KL")
        assert "Q8_0 about 0.001 and 99%" in report["verdict"]


def _llama_logits(path: Path, prompt: str, monkeypatch) -> tuple[list[int], np.ndarray]:
    """Every position's logits from llama-cpp-python's high-level ``Llama``, repacking off."""
    import llama_cpp
    import llama_cpp.llama_cpp as low

    default_params = low.llama_model_default_params

    def without_repacking():
        # The AMX workaround the product applies; Llama has no parameter for it.
        params = default_params()
        params.use_extra_bufts = False
        return params

    monkeypatch.setattr(low, "llama_model_default_params", without_repacking)
    llm = llama_cpp.Llama(str(path), n_ctx=512, n_batch=512, logits_all=True, verbose=False)
    try:
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        llm.eval(tokens)
        return tokens, np.array(llm.scores[: len(tokens)], dtype=np.float64)
    finally:
        llm.close()


def _softmax_log(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.slow
def test_figures_match_an_independent_computation_from_llama_logits(tiny_gguf_f32, tiny_gguf_q4_k_m, monkeypatch):
    report = qr.quant_report(tiny_gguf_q4_k_m, tiny_gguf_f32, passages=1)
    prompt = qr.report_prompts(1)[0]
    tokens, reference = _llama_logits(tiny_gguf_f32, prompt, monkeypatch)
    _, model = _llama_logits(tiny_gguf_q4_k_m, prompt, monkeypatch)
    # Position i predicts token i+1; the last position predicts nothing known.
    p, q = _softmax_log(reference[:-1]), _softmax_log(model[:-1])
    kl = (np.exp(p) * (p - q)).sum(axis=-1)
    next_tokens = np.array(tokens[1:])
    rows = np.arange(len(next_tokens))
    assert report.positions == len(kl)
    # One position, the worst, and all of them together.
    # (measured: within 1e-5 relative; the two paths share llama.cpp's kernels, not the
    # context's size, and ours rounds log-probabilities to float32 before comparing them).
    assert report.max_kl == pytest.approx(kl.max(), rel=1e-4)
    assert report.mean_kl == pytest.approx(kl.mean(), rel=1e-4)
    assert report.p99_kl == pytest.approx(np.percentile(kl, 99), rel=1e-4)
    same_top = (reference[:-1].argmax(-1) == model[:-1].argmax(-1)).mean()
    assert report.top1_agreement == pytest.approx(same_top, abs=1.5 / len(kl))  # a near-tie may flip
    assert report.reference_perplexity == pytest.approx(np.exp(-p[rows, next_tokens].mean()), rel=1e-4)
    assert report.perplexity_ratio == pytest.approx(
        np.exp(-q[rows, next_tokens].mean() + p[rows, next_tokens].mean()), rel=1e-4
    )


def test_kl_of_one_position_by_hand():
    reference = np.log(np.array([[0.5, 0.25, 0.25]]))
    model = np.log(np.array([[0.25, 0.5, 0.25]]))
    expected = 0.5 * np.log(2) + 0.25 * np.log(0.5)
    assert qr.kl_divergence(reference, model)[0] == pytest.approx(expected)
    logits = np.array([[2.0, 1.0, 1.0]], dtype=np.float32)
    assert np.exp(qr.log_probs(logits)).sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_never_two_models_in_memory_and_the_scratch_file_is_removed(
    tiny_gguf_f32, tiny_gguf_q8_0, tmp_path, monkeypatch
):
    loaded, most = [], []
    real_model = llama_handles.Model

    class CountingModel(real_model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            loaded.append(self)
            most.append(sum(1 for m in loaded if m._ptr))

    monkeypatch.setattr(llama_handles, "Model", CountingModel)
    workdir = tmp_path / "work"
    workdir.mkdir()
    seen_files = []
    real_model_pass = qr._model_pass

    def model_pass(*args, **kwargs):
        seen_files.extend(p.name for p in workdir.rglob("*") if p.is_file())
        return real_model_pass(*args, **kwargs)

    monkeypatch.setattr(qr, "_model_pass", model_pass)
    qr.quant_report(tiny_gguf_q8_0, tiny_gguf_f32, passages=1, workdir=workdir)
    assert len(loaded) == 2 and max(most) == 1
    assert seen_files == ["reference-log-probs.f32"]
    assert list(workdir.iterdir()) == []


def test_the_scratch_file_is_removed_after_ctrl_c(tiny_gguf_f32, tiny_gguf_q8_0, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(qr, "_model_pass", interrupted)
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run(
        ["quant-report", str(tiny_gguf_q8_0), "-r", str(tiny_gguf_f32), "--passages", "1", "--workdir", str(workdir)]
    )
    assert result.exit_code == 130
    assert list(workdir.iterdir()) == []


def test_not_enough_disk_for_the_reference_log_probs(tiny_gguf_f32, tiny_gguf_q8_0, monkeypatch):
    monkeypatch.setattr(qr.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, 1000))
    result = run(["quant-report", str(tiny_gguf_q8_0), "-r", str(tiny_gguf_f32), "--passages", "1"])
    assert result.exit_code == 1
    assert "GB is free" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_table_and_progress(tiny_gguf_f32, tiny_gguf_q8_0):
    result = run(["quant-report", str(tiny_gguf_q8_0), "-r", str(tiny_gguf_f32), "--passages", "1"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tiny_gguf_q8_0.name} (Q8_0) against {tiny_gguf_f32.name} (F32): 1 prompt, ")
    assert any(line.split()[:3] == ["mean", "KL", "divergence"] for line in lines)
    assert lines[-1].startswith("Q8_0: mean KL") and "llama.cpp publishes for 7-8 B models" in lines[-1]
    assert "2/2 prompt evaluations" in result.stderr


def _with_one_token_renamed(source: Path, destination: Path) -> Path:
    shutil.copyfile(source, destination)
    reader = gguf.GGUFReader(destination, "r+")
    tokens = reader.fields[gguf.Keys.Tokenizer.LIST]
    piece = tokens.parts[tokens.data[1000]]  # a view into the file's memory map
    assert bytes(piece) != b"~" * len(piece)
    piece[:] = ord("~")  # same length, other bytes: only the token list changes
    reader.data.flush()
    del reader
    return destination


@pytest.mark.slow
def test_a_different_vocabulary_is_refused(tiny_gguf_f32, tiny_gguf_q8_0, tmp_path):
    renamed = _with_one_token_renamed(tiny_gguf_q8_0, tmp_path / "renamed.gguf")
    result = run(["quant-report", str(renamed), "-r", str(tiny_gguf_f32)])
    assert result.exit_code == 2
    assert "different vocabularies" in result.stderr and "different tokens" in result.stderr
    assert result.stderr.count("\n") == 1

    small = write_small_gguf(tmp_path / "small.gguf", "llama", with_tokenizer=True)
    result = run(["quant-report", str(small), "-r", str(tiny_gguf_f32)])
    assert result.exit_code == 2 and "(4 and 32,000 tokens)" in result.stderr


def test_a_different_architecture_is_refused(tiny_gguf_f32):
    with pytest.raises(ModelFileError, match="different architectures"):
        qr.quant_report("toy", tiny_gguf_f32)


def test_passages_out_of_range(tiny_gguf_f32):
    result = run(["quant-report", str(tiny_gguf_f32), "-r", str(tiny_gguf_f32), "--passages", "17"])
    assert result.exit_code == 2 and "between 1 and 16" in result.stderr


@pytest.mark.slow
def test_a_model_larger_than_free_memory_is_warned_about_not_refused(tiny_gguf_f32, tiny_gguf_q8_0, monkeypatch):
    monkeypatch.setattr(qr, "available_memory_bytes", lambda: 1_000_000)
    result = run(
        ["quant-report", str(tiny_gguf_q8_0), "-r", str(tiny_gguf_f32), "--passages", "1", "--n-gpu-layers", "0"]
    )
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 2  # the reference, then the model
    assert "read its weights from disk" in warnings[0] and tiny_gguf_f32.name in warnings[0]
    assert tiny_gguf_q8_0.name in warnings[1]


def test_a_workdir_that_is_no_folder_is_refused_before_anything_loads(tmp_path, tiny_gguf_q8_0, tiny_gguf_f32):
    (tmp_path / "notes.txt").write_text("a file")
    for workdir in (tmp_path / "notes.txt", tmp_path / "missing"):
        with pytest.raises(InputError, match=f"--workdir {workdir} is not a folder; give a folder you can write to"):
            qr.quant_report(tiny_gguf_q8_0, tiny_gguf_f32, passages=1, workdir=workdir)
