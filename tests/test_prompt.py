from bonito_lite.prompt import (
    NO_PIPE,
    TOO_MANY_PIPES,
    ParsedExample,
    ParseFailure,
    build_prompt,
    parse_generation,
)


def test_prompt_matches_upstream_template_byte_for_byte():
    prompt = build_prompt(" extractive question answering ", "\n  The cat sat.\n\n")
    assert prompt == (
        "<|tasktype|>\nextractive question answering\n<|context|>\nThe cat sat.\n<|task|>\n"
    )


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
