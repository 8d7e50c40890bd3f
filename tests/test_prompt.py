import pytest

from bonito_lite.engines.local import Tokenizer
from bonito_lite.models.paths import toy_model_path
from bonito_lite.prompt import (
    NO_PIPE,
    TEMPLATE_TOKENS,
    TOO_MANY_PIPES,
    ParsedExample,
    ParseFailure,
    build_prompt,
    parse_generation,
)
from bonito_lite.task_types import TASK_TYPES


def test_prompt_matches_upstream_template_byte_for_byte():
    prompt = build_prompt(" extractive question answering ", "\n  The cat sat.\n\n")
    assert prompt == ("<|tasktype|>\nextractive question answering\n<|context|>\nThe cat sat.\n<|task|>\n")


def test_parser_splits_on_one_pipe_and_strips_both_sides():
    parsed = parse_generation("  Where did it sit? <|pipe|>  On the mat \n", "ctx")
    assert parsed == ParsedExample(input="Where did it sit?", output="On the mat")


def test_parser_substitutes_stripped_context_in_input_and_output():
    parsed = parse_generation("{{context}}\nQ?<|pipe|>see {{context}}", "  The cat sat. ")
    assert parsed == ParsedExample(input="The cat sat.\nQ?", output="see The cat sat.")


def test_parser_rejects_missing_and_extra_pipes_with_a_reason():
    assert parse_generation("no separator here", "c") == ParseFailure(NO_PIPE)
    assert parse_generation("a<|pipe|>b<|pipe|>c", "c") == ParseFailure(TOO_MANY_PIPES)


def test_empty_sides_are_kept_like_upstream():
    assert parse_generation("<|pipe|>", "c") == ParsedExample(input="", output="")


PASSAGES = [
    "The committee approved the budget.",
    "  leading spaces, trailing ones  ",
    "# A heading\n\n- a list item\n- another",
    "Zoë's café served crème brûlée; naïve façade.",
    "東京都の人口は約1400万人です。",
    "Emoji 🎉🚀 and symbols ©®™ ∑∫√ at the end 🙂",
    "'quoted' start, (parenthesised) middle, \"double\" end.",
    "1234567890 3.14159 -42 1e10",
    "<|pipe|> a tag inside the passage {{context}}",
]


@pytest.mark.parametrize("passage", PASSAGES)
def test_a_prompt_adds_at_most_template_tokens_to_its_passage(passage):
    # What sizes every sequence's context: a passage cut to --chunk-tokens must fit with its prompt.
    tokenizer = Tokenizer(toy_model_path())
    try:
        own = tokenizer.count_tokens(passage.strip())
        added = [len(tokenizer.tokenize(build_prompt(t.full_name, passage))) - own for t in TASK_TYPES]
    finally:
        tokenizer.close()
    assert max(added) <= TEMPLATE_TOKENS - 10  # room left for tokenizers that merge differently
    assert min(added) > 10
