"""``bonito-lite pull`` against a Hub stand-in on loopback, with huggingface-hub's real client.

The stand-in (tests/hub_stand_in.py) is a threaded HTTP server that answers the Hub's URL
layout for the calls the client makes. It serves real GGUF files converted from a tiny
checkpoint with the real Mistral tokenizer. ``HF_ENDPOINT`` points the client at it; each
command runs in its own process with its own Hugging Face cache, where the tiny model's shape
is registered as a known Bonito (the real table holds only 7-8 B shapes).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from bonito_lite.errors import HubRepositoryError, ModelFileError, ResourceError
from bonito_lite.models.info import read_model_info, token_list_sha256
from bonito_lite.models.paths import resolve_model, toy_model_path
from bonito_lite.models.pull import (
    KNOWN_MODELS,
    LLAMA_3_1_VOCAB_SHA256,
    MISTRAL_VOCAB_SHA256,
    KnownModel,
    RepoFile,
    RepoListing,
    choose_file,
    file_quant,
    identify_bonito,
    read_pull_record,
)
from bonito_lite.models.summary import format_summary, summarize_model

from cli_helpers import assert_one_line_error, run_cli
from hub_stand_in import COMMIT, HubStandIn
from model_factory import MISTRAL_TOKENIZER

REPO = "someone/tiny-bonito-GGUF"

# The shape of tests/model_factory.write_tiny_checkpoint's model, with the Mistral tokenizer.
TINY_BONITO = KnownModel(
    name="tiny test Bonito",
    repository="someone/tiny-bonito",
    tokenizer="Mistral's",
    block_count=2,
    embedding_length=256,
    feed_forward_length=512,
    head_count=4,
    head_count_kv=2,
    vocab_size=32000,
    vocab_sha256=MISTRAL_VOCAB_SHA256,
)

# Runs the CLI in a fresh process with the tiny shape registered beside the real ones.
_RUN_PULL = f"""
import sys
from bonito_lite.models import pull
pull.KNOWN_MODELS = pull.KNOWN_MODELS + (pull.KnownModel(**{TINY_BONITO.__dict__!r}),)
from bonito_lite.cli import main
sys.argv = ["bonito-lite", *sys.argv[1:]]
main()
"""


@pytest.fixture
def hub():
    with HubStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def quants(tiny_gguf_q8_0: Path, tiny_gguf_q4_k_m: Path, tiny_gguf_f32: Path) -> dict[str, bytes]:
    """One real GGUF per quant type, as a publisher names them."""
    return {
        "tiny-bonito.Q8_0.gguf": tiny_gguf_q8_0.read_bytes(),
        "tiny-bonito.Q4_K_M.gguf": tiny_gguf_q4_k_m.read_bytes(),
        "tiny-bonito.F32.gguf": tiny_gguf_f32.read_bytes(),
        "README.md": b"# tiny Bonito in GGUF\n",
    }


@pytest.fixture
def pull(tmp_path: Path, in_tmp: Path):
    """Run ``bonito-lite pull ARGS`` in a process of its own, against ``endpoint``."""
    hf_home = tmp_path / "hf-home"

    def run(*args: str, endpoint: str, offline: bool = False, timeout: int = 300, **extra: str):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HF_", "HUGGINGFACE_")) and "proxy" not in k.lower() and k != "TRANSFORMERS_OFFLINE"
        }
        env.update(HF_HOME=str(hf_home), HF_ENDPOINT=endpoint, HF_HUB_DISABLE_TELEMETRY="1")
        if offline:
            env["HF_HUB_OFFLINE"] = "1"
        env.update(extra)
        return subprocess.run(
            [sys.executable, "-c", _RUN_PULL, "pull", *args],
            cwd=in_tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    run.hf_home = hf_home
    return run


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_pull_downloads_the_asked_quant_among_several_and_records_its_source(hub, quants, pull, in_tmp):
    hub.repos[REPO] = quants
    proc = pull(REPO, "--quant", "q4_k_m", "-q", endpoint=hub.url)
    assert proc.returncode == 0, proc.stderr
    model = in_tmp / "models" / "tiny-bonito.Q4_K_M.gguf"
    assert model.read_bytes() == quants["tiny-bonito.Q4_K_M.gguf"]
    assert sorted(p.name for p in (in_tmp / "models").iterdir()) == [model.name, model.name + ".source.json"]
    # Only the chosen file was fetched, as a whole.
    assert hub.downloads("tiny-bonito.Q4_K_M.gguf") == [None]
    assert [r for r in hub.requests if "/resolve/" in r[1] and "Q4_K_M" not in r[1]] == []
    record = read_pull_record(model)
    assert record["repository"] == REPO
    assert record["revision"] == COMMIT
    assert record["file"] == "tiny-bonito.Q4_K_M.gguf"
    assert record["quant"] == "Q4_K_M"
    assert record["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert record["model"] == TINY_BONITO.name
    assert record["converts"] == TINY_BONITO.repository
    assert proc.stdout.startswith(f"Wrote models/{model.name} (") and COMMIT[:12] in proc.stdout
    # inspect shows where the file came from.
    table = format_summary(summarize_model(model))
    assert f"{REPO} at {COMMIT[:12]}" in table and record["sha256"][:16] in table
    assert summarize_model(model).as_dict()["pulled_from"]["sha256"] == record["sha256"]


@pytest.mark.slow
def test_a_download_cut_mid_file_resumes_where_it_stopped(hub, quants, pull, in_tmp):
    name = "tiny-bonito.Q8_0.gguf"
    cut = len(quants[name]) * 3 // 4
    hub.repos[REPO] = quants
    hub.cut_next_get[name] = cut
    proc = pull(REPO, "--quant", "Q8_0", "-q", endpoint=hub.url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # -q: the client's own retry messages are not shown either
    assert (in_tmp / "models" / name).read_bytes() == quants[name]
    # The first GET was cut; the client asked for the rest only, from the last chunk it wrote
    # (huggingface-hub writes whole chunks of 10 MiB).
    first, second = hub.downloads(name)
    assert first is None
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", second)[1])
    assert 0 < resumed_at <= cut


@pytest.mark.slow
def test_a_model_that_is_no_known_bonito_is_refused_and_not_kept(hub, pull, in_tmp):
    # The bundled toy is a real llama GGUF with Mistral's tokenizer, of no Bonito's shape.
    hub.repos[REPO] = {"imposter.Q4_K_M.gguf": toy_model_path().read_bytes()}
    proc = pull(REPO, "-q", endpoint=hub.url)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert f"{REPO}/imposter.Q4_K_M.gguf is not a Bonito model" in line
    reader = gguf.GGUFReader(toy_model_path())
    layers, width = (reader.get_field(f"llama.{key}").contents() for key in ("block_count", "embedding_length"))
    assert f"{layers} layers, embedding {width}" in line and "bonito-v1 (Mistral 7B)" in line
    assert not (in_tmp / "models").exists() or list((in_tmp / "models").iterdir()) == []
    # Not left in the Hugging Face cache either.
    cached = [p for p in (pull.hf_home / "hub").rglob("*") if p.is_file() or p.is_symlink()]
    assert [p for p in cached if "blobs" in p.parts or "snapshots" in p.parts] == []


@pytest.mark.slow
def test_a_pulled_file_comes_from_the_cache_offline(hub, quants, pull, in_tmp):
    hub.repos[REPO] = quants
    assert pull(REPO, "-q", endpoint=hub.url).returncode == 0
    first = read_pull_record(in_tmp / "models" / "tiny-bonito.Q4_K_M.gguf")
    asked = len(hub.requests)
    proc = pull(REPO, "-q", "-o", "again.gguf", endpoint=hub.url, offline=True)
    assert proc.returncode == 0, proc.stderr
    assert len(hub.requests) == asked  # the Hub, still there, was not asked anything
    assert (in_tmp / "again.gguf").read_bytes() == quants["tiny-bonito.Q4_K_M.gguf"]
    again = read_pull_record(in_tmp / "again.gguf")
    assert (again["revision"], again["sha256"]) == (first["revision"], first["sha256"])
    # Without the offline switch, an unreachable Hub falls back to the cache too, and says so.
    hub.stop()
    proc = pull(REPO, "-o", "third.gguf", endpoint=hub.url)
    assert proc.returncode == 0, proc.stderr
    warning = f"Warning: the Hub at {hub.url} cannot be reached: "
    assert warning in proc.stderr and f"using the files of {REPO} in the local Hugging Face cache" in proc.stderr


@pytest.mark.slow
def test_overwriting_a_pulled_file_with_itself_leaves_no_hidden_copy(hub, quants, pull, in_tmp):
    hub.repos[REPO] = quants
    assert pull(REPO, "-q", endpoint=hub.url).returncode == 0
    for offline in (False, True):
        proc = pull(REPO, "-q", "--overwrite", endpoint=hub.url, offline=offline)
        assert proc.returncode == 0, proc.stderr
    # The cache's blob and models/ share the file; a leftover temporary name would be a third.
    names = sorted(p.name for p in (in_tmp / "models").iterdir())
    assert names == ["tiny-bonito.Q4_K_M.gguf", "tiny-bonito.Q4_K_M.gguf.source.json"]


@pytest.mark.slow
def test_offline_a_cached_file_damaged_since_its_download_is_not_kept(hub, quants, pull, in_tmp):
    hub.repos[REPO] = quants
    assert pull(REPO, "-q", "-o", "first.gguf", endpoint=hub.url).returncode == 0
    (blob,) = [p for p in (pull.hf_home / "hub").rglob("*") if p.parent.name == "blobs" and p.stat().st_size > 1000]
    (in_tmp / "first.gguf").unlink()  # so the blob is the only name of its bytes
    data = bytearray(blob.read_bytes())
    data[-10] ^= 0xFF
    blob.write_bytes(bytes(data))
    proc = pull(REPO, "-q", "-o", "again.gguf", endpoint=hub.url, offline=True)
    assert proc.returncode == 1
    assert "arrived damaged" in _one_error_line(proc)
    assert not (in_tmp / "again.gguf").exists()


@pytest.mark.slow
def test_a_file_that_differs_from_the_hubs_sha256_is_not_kept(hub, quants, pull, in_tmp):
    hub.repos[REPO] = quants
    hub.listed_sha256["tiny-bonito.Q4_K_M.gguf"] = "f" * 64
    proc = pull(REPO, "-q", endpoint=hub.url)
    assert proc.returncode == 1
    assert f"{REPO}/tiny-bonito.Q4_K_M.gguf arrived damaged" in _one_error_line(proc)
    assert not (in_tmp / "models").exists()
    assert [p for p in (pull.hf_home / "hub").rglob("*") if p.parent.name in ("blobs", COMMIT)] == []


def test_an_existing_output_is_refused_before_anything_is_downloaded(in_tmp):
    (in_tmp / "mine.gguf").write_bytes(b"not to be replaced")
    result = run_cli(["pull", REPO, "-o", "mine.gguf"])
    assert_one_line_error(result, 2, "mine.gguf exists; pass --overwrite")
    assert (in_tmp / "mine.gguf").read_bytes() == b"not to be replaced"


@pytest.mark.slow
def test_no_hub_at_all_is_one_line(pull, in_tmp):
    proc = pull(REPO, endpoint=f"http://127.0.0.1:{_closed_port()}")
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert "cannot be reached" in line and f"{REPO} is not in the local Hugging Face cache" in line
    assert not (in_tmp / "models").exists()


@pytest.mark.slow
def test_an_absent_quant_lists_those_there_and_an_unknown_repository_says_so(hub, quants, pull):
    hub.repos[REPO] = quants
    proc = pull(REPO, "--quant", "Q5_K_M", endpoint=hub.url)
    assert proc.returncode == 2
    assert f"{REPO} has no Q5_K_M GGUF; it has F32, Q4_K_M, Q8_0" in _one_error_line(proc)
    proc = pull("someone/nothing-here", endpoint=hub.url)
    assert proc.returncode == 2
    assert "someone/nothing-here is not a model repository on the Hub" in _one_error_line(proc)
    proc = pull(REPO, "--revision", "v9", endpoint=hub.url)
    assert proc.returncode == 2
    assert "has no revision 'v9'" in _one_error_line(proc)


def _listing(*names: str) -> RepoListing:
    return RepoListing(REPO, None, COMMIT, tuple(RepoFile(name) for name in names), from_cache=False)


def test_a_file_name_says_its_quant_type_between_separators():
    assert file_quant("bonito-v1.Q4_K_M.gguf") == "Q4_K_M"
    assert file_quant("bonito-v1.i1-Q4_K_S.gguf") == "Q4_K_S"
    assert file_quant("sub/ggml-model-q8_0.gguf") == "Q8_0"
    assert file_quant("bonito-v1.IQ4_NL.gguf") == "IQ4_NL"
    assert file_quant("bonito-v1.BF16.gguf") == "BF16"
    assert file_quant("bonito-v1.f16.gguf") == "F16"
    assert file_quant("bonito-v1.gguf") is None


def test_choose_file_takes_the_one_file_of_the_quant_or_names_one_exactly():
    listing = _listing("m.Q4_K_M.gguf", "m.Q4_K_S.gguf", "m.IQ4_NL.gguf", "README.md")
    assert choose_file(listing, "q4_k_m").name == "m.Q4_K_M.gguf"
    assert choose_file(listing, "IQ4_NL").name == "m.IQ4_NL.gguf"
    two = _listing("a.Q4_K_M.gguf", "b/a.Q4_K_M.gguf")
    with pytest.raises(HubRepositoryError, match="has 2 Q4_K_M files .* name one with --quant FILE"):
        choose_file(two, "Q4_K_M")
    assert choose_file(two, "b/a.Q4_K_M.gguf").name == "b/a.Q4_K_M.gguf"


@pytest.mark.parametrize(
    "names",
    [
        ("m.Q8_0-00001-of-00002.gguf", "m.Q8_0-00002-of-00002.gguf"),
        ("m.Q8_0.gguf.part1of2", "m.Q8_0.gguf.part2of2"),
    ],
)
def test_a_split_gguf_is_refused_with_its_parts_named(names):
    with pytest.raises(HubRepositoryError, match=r"has Q8_0 only split in 2 parts \(") as caught:
        choose_file(_listing(*names, "m.Q4_K_M.gguf"), "Q8_0")
    assert all(name in str(caught.value) for name in names)


def test_a_file_that_cannot_fit_on_the_disk_is_refused_before_its_download(monkeypatch, tmp_path: Path):
    from bonito_lite.models import pull

    listing = RepoListing(REPO, None, COMMIT, (RepoFile("m.Q4_K_M.gguf", size=4_400_000_000),), from_cache=False)
    free = {"bytes": 3_000_000_000}
    real = shutil.disk_usage
    monkeypatch.setattr(pull.shutil, "disk_usage", lambda folder: real(folder)._replace(free=free["bytes"]))
    with pytest.raises(ResourceError, match=r"for m.Q4_K_M.gguf: it needs 4.4 GB, 3.0 GB are free; free some space"):
        pull.check_free_disk(listing, listing.files[0], tmp_path / "models")
    free["bytes"] = 5_000_000_000
    pull.check_free_disk(listing, listing.files[0], tmp_path / "models")


def test_offline_a_snapshot_the_cache_knows_to_be_partial_still_lists_the_files_pulled(monkeypatch, tmp_path: Path):
    import huggingface_hub
    from huggingface_hub.errors import IncompleteSnapshotError

    from bonito_lite.models import pull

    # What huggingface-hub answers when it has the repository's full listing cached and only
    # some of its files: the files pulled before are still there to use.
    snapshot = tmp_path / "snapshots" / COMMIT
    (snapshot / "sub").mkdir(parents=True)
    (snapshot / "sub" / "m.Q8_0.gguf").write_bytes(b"GGUF")

    def partial(*args, **kwargs):
        raise IncompleteSnapshotError("some files are missing", snapshot_path=str(snapshot))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", partial)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    listing = pull.list_repository(REPO, None)
    assert (listing.commit, listing.from_cache) == (COMMIT, True)
    assert choose_file(listing, "Q8_0") == RepoFile("sub/m.Q8_0.gguf", size=4)


def test_a_repository_without_gguf_points_to_convert():
    with pytest.raises(HubRepositoryError, match=f"holds no GGUF file.*'bonito-lite convert {REPO}'"):
        choose_file(_listing("config.json", "model.safetensors"), "Q4_K_M")


def test_the_same_shape_with_another_vocabulary_is_refused_by_its_tokenizer(tiny_gguf_q8_0: Path):
    info = read_model_info(tiny_gguf_q8_0)
    assert identify_bonito(info, [TINY_BONITO]) is TINY_BONITO
    llama_vocab = KnownModel(**{**TINY_BONITO.__dict__, "tokenizer": "Llama 3.1's", "vocab_sha256": "0" * 64})
    with pytest.raises(ModelFileError, match="has the shape of tiny test Bonito but its vocabulary is not Llama 3.1's"):
        identify_bonito(info, [llama_vocab])
    with pytest.raises(ModelFileError, match="is that of no known Bonito"):
        identify_bonito(info)


def test_the_known_shapes_are_bonito_v1s_and_the_llama_3_1_bonitos():
    shapes = {model.name: model.shape() for model in KNOWN_MODELS}
    # Mistral-7B and Llama-3.1-8B: 32 layers, hidden 4096, FFN 14336, 32 heads, 8 KV heads.
    assert set(shapes.values()) == {(32, 4096, 14336, 32, 8, 32000), (32, 4096, 14336, 32, 8, 128256)}


def test_the_mistral_vocabulary_hash_is_that_of_mistrals_tokenizer_and_of_our_conversions(tiny_gguf_q8_0: Path):
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(MISTRAL_TOKENIZER))
    pieces = [processor.id_to_piece(i).encode() for i in range(processor.get_piece_size())]
    assert token_list_sha256(pieces) == MISTRAL_VOCAB_SHA256
    assert read_model_info(tiny_gguf_q8_0).vocab_sha256 == MISTRAL_VOCAB_SHA256


# Llama 3.1's special tokens, ids 128000-128255 (its tokenizer_config.json's added tokens).
_LLAMA_3_1_SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|reserved_special_token_2|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
]
_LLAMA_3_1_SPECIAL += [f"<|reserved_special_token_{n}|>" for n in range(3, 248)]


def test_the_llama_3_1_vocabulary_hash_is_that_of_the_llama_3_tokenizer():
    import llama_models.llama3 as llama3
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    ranks = {}
    for line in (Path(llama3.__file__).parent / "tokenizer.model").read_text().splitlines():
        if line:
            token, rank = line.split()
            ranks[int(rank)] = base64.b64decode(token)
    assert sorted(ranks) == list(range(128000))
    alphabet = bytes_to_unicode()  # tokenizer.json's (and the GGUF's) spelling of token bytes
    tokens = ["".join(alphabet[b] for b in ranks[i]) for i in range(len(ranks))] + _LLAMA_3_1_SPECIAL
    assert len(tokens) == 128256
    assert token_list_sha256(t.encode() for t in tokens) == LLAMA_3_1_VOCAB_SHA256


def test_inspect_says_nothing_of_a_source_for_a_file_that_was_not_pulled(tiny_gguf_q8_0: Path):
    assert summarize_model(tiny_gguf_q8_0).as_dict()["pulled_from"] is None
    assert "pulled from" not in format_summary(summarize_model(tiny_gguf_q8_0))


def test_a_pulled_model_is_found_by_the_hub_id_it_converts_and_by_its_repository(tmp_path, monkeypatch):
    # Upstream code names the model by its hub id, as Bonito("BatsResearch/bonito-v1") does.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "bonito-v1.Q8_0.gguf"
    shutil.copyfile(toy_model_path(), model)
    (tmp_path / "models" / "bonito-v1.Q8_0.gguf.source.json").write_text(
        '{"repository": "someone/bonito-v1-GGUF", "converts": "BatsResearch/bonito-v1"}', encoding="utf-8"
    )
    assert resolve_model("BatsResearch/bonito-v1") == Path("models") / model.name
    assert resolve_model("someone/bonito-v1-GGUF") == Path("models") / model.name
    with pytest.raises(ModelFileError, match="'bonito-lite pull REPO'.*'bonito-lite convert BatsResearch/other'"):
        resolve_model("BatsResearch/other")


def test_a_models_path_that_is_a_file_is_refused_before_anything_is_asked(in_tmp):
    from bonito_lite.errors import OutputExistsError
    from bonito_lite.models.pull import pull_model

    (in_tmp / "models").write_text("not a folder")
    with pytest.raises(OutputExistsError, match="models is a file, and models/x.gguf would go inside it"):
        pull_model("someone/x-GGUF", output="models/x.gguf", progress=False)


def test_a_hub_that_accepts_the_connection_and_never_answers_is_given_up_on(pull):
    # A stuck proxy or a captive portal: the connection opens, no answer ever comes.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        proc = pull(REPO, endpoint=endpoint, timeout=120, HF_HUB_DOWNLOAD_TIMEOUT="2")
    assert proc.returncode == 1
    assert "cannot be reached" in _one_error_line(proc)
