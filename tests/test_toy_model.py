"""The bundled toy Bonito: a marked toy GGUF that llama.cpp loads and that writes tasks
Bonito's parser keeps.

CPU training and sampling differ across machines, so generation is held to rates over
several seeds and passages the model never saw, never to exact strings.
"""

from __future__ import annotations

import gguf
import pytest

from bonito_lite.engines.generation import EngineSettings, GenerationRequest, Sampling
from bonito_lite.engines.local import Engine
from bonito_lite.models import metadata
from bonito_lite.models.paths import toy_model_path
from bonito_lite.prompt import PROMPT_TEMPLATE, ParsedExample, build_prompt, parse_generation
from bonito_lite.task_types import TASK_TYPES

MAX_TOY_BYTES = 12 * 1024 * 1024
MIN_PARSE_RATE = 0.7

# Passages written for this test (not produced by the training corpus's templates), in
# domains Bonito users bring: a clinic note, an internal wiki page, a contract clause.
NEW_PASSAGES = (
    "Patient Rowan Ellery, 47, was seen on 3 May 2026 for shortness of breath after climbing "
    "stairs. Oxygen saturation was 95 percent. Dr. Amalia Voss ordered a chest X-ray and "
    "prescribed an inhaler, two puffs twice a day. Review in two weeks.",
    "The Quarry deploy tool ships every release of the storefront. Releases go out on "
    "Tuesdays at 10:00; a rollback takes about six minutes. The on-call engineer, currently "
    "Tobias Wren, approves each release in the #deploys channel.",
    "Clause 7. The Supplier shall deliver 400 units of the sensor kit to the Buyer's "
    "warehouse in Ghent no later than 30 September 2026. Late delivery incurs a penalty of "
    "2 percent of the order value for each week of delay.",
)
TASKS = (
    "extractive question answering",
    "yes-no question answering",
    "summarization",
    "natural language inference",
)
SAMPLES = 20


def _field(reader: gguf.GGUFReader, key: str):
    field = reader.get_field(key)
    assert field is not None, f"{key} missing from the toy GGUF"
    return field.contents()


def test_toy_gguf_ships_inside_the_package_and_fits_the_size_budget():
    path = toy_model_path()
    assert path.is_file()
    assert path.stat().st_size <= MAX_TOY_BYTES


@pytest.mark.slow
def test_toy_gguf_is_marked_as_a_toy_bonito_in_its_metadata():
    reader = gguf.GGUFReader(toy_model_path())
    assert _field(reader, metadata.IS_TOY) is True
    assert _field(reader, metadata.IS_BONITO) is True
    assert _field(reader, metadata.PROMPT_TEMPLATE_KEY) == PROMPT_TEMPLATE
    assert _field(reader, metadata.TASK_TYPES_KEY) == [t.full_name for t in TASK_TYPES]
    assert _field(reader, metadata.TASK_TYPE_SHORT_FORMS_KEY) == [t.short for t in TASK_TYPES]
    assert _field(reader, gguf.Keys.General.ARCHITECTURE) == "llama"
    # The real Mistral tokenizer, so prompts tokenise as they do for bonito-v1.
    assert len(_field(reader, gguf.Keys.Tokenizer.LIST)) == 32000
    assert _field(reader, gguf.Keys.Tokenizer.MODEL) == "llama"


@pytest.fixture(scope="module")
def toy_engine():
    # One sequence at a time and the CPU: the rate must not depend on batching or a GPU.
    with Engine(toy_model_path(), EngineSettings(n_gpu_layers=0, parallel=1, ctx_size=1024)) as engine:
        yield engine


@pytest.mark.slow
def test_toy_model_writes_tasks_that_bonitos_parser_keeps_on_new_passages(toy_engine):
    # Upstream's sampling defaults (temperature 0.5, top-p 0.95, 256 tokens), unconstrained:
    # the pipe must come from the weights, not from a grammar.
    assert not toy_engine.settings.constrain
    requests = []
    for n in range(SAMPLES):
        passage = NEW_PASSAGES[n % len(NEW_PASSAGES)]
        task = TASKS[n % len(TASKS)]
        requests.append(GenerationRequest(key=(passage, task, n), prompt=build_prompt(task, passage),
                                          seeds=(7 + 31 * n,), sampling=Sampling()))
    completions = list(toy_engine.generate(requests))
    assert len(completions) == SAMPLES
    parsed = [parse_generation(c.text, c.key[0]) for c in completions]
    kept = [p for p in parsed if isinstance(p, ParsedExample)]
    rate = len(kept) / SAMPLES
    assert rate >= MIN_PARSE_RATE, f"parse rate {rate:.0%} over {SAMPLES} samples"
    # Kept examples are real examples, not empty halves around the pipe.
    assert sum(1 for p in kept if p.input and p.output) >= MIN_PARSE_RATE * SAMPLES
