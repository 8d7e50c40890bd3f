"""Bonito's prompt template and output parser, byte for byte as upstream has them.

Upstream builds the prompt as::

    "<|tasktype|>\\n" + task_type.strip() + "\\n<|context|>\\n" + context.strip() + "\\n<|task|>\\n"

and keeps a generation only when splitting it on ``<|pipe|>`` gives exactly two parts,
replacing ``{{context}}`` with the stripped context in both (upstream's behaviour since
Feb 2025). Upstream drops everything else silently; here every drop has a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

TASKTYPE_TAG = "<|tasktype|>"
CONTEXT_TAG = "<|context|>"
TASK_TAG = "<|task|>"
PIPE = "<|pipe|>"
CONTEXT_PLACEHOLDER = "{{context}}"

# The template as one string, for GGUF metadata and documentation; build_prompt is the code.
PROMPT_TEMPLATE = TASKTYPE_TAG + "\n{task_type}\n" + CONTEXT_TAG + "\n{context}\n" + TASK_TAG + "\n"

# Most tokens a prompt adds to its passage's own count: BOS, the tags and the longest task
# type's name take 28 with Bonito's (Mistral's) tokenizer; the rest is room for tokens that
# merge differently where the passage meets the template.
TEMPLATE_TOKENS = 48

# Reasons a generation is rejected by the parser.
NO_PIPE = "no_pipe"
TOO_MANY_PIPES = "too_many_pipes"


def build_prompt(full_task_type: str, context: str) -> str:
    """The Bonito prompt for one passage and one task type (its full name)."""
    return prompt_prefix(full_task_type) + context.strip() + "\n" + TASK_TAG + "\n"


def prompt_prefix(full_task_type: str) -> str:
    """The start of every prompt of one task type: everything before the passage."""
    return TASKTYPE_TAG + "\n" + full_task_type.strip() + "\n" + CONTEXT_TAG + "\n"


@dataclass(frozen=True)
class ParsedExample:
    input: str
    output: str


@dataclass(frozen=True)
class ParseFailure:
    reason: str


def parse_generation(generation: str, context: str) -> ParsedExample | ParseFailure:
    """Upstream's parser: exactly one ``<|pipe|>``, both sides stripped, context substituted."""
    parts = generation.strip().split(PIPE)
    if len(parts) != 2:
        return ParseFailure(NO_PIPE if len(parts) < 2 else TOO_MANY_PIPES)
    stripped_context = context.strip()
    return ParsedExample(
        input=parts[0].strip().replace(CONTEXT_PLACEHOLDER, stripped_context),
        output=parts[1].strip().replace(CONTEXT_PLACEHOLDER, stripped_context),
    )


def pipe_grammar(separator: str = PIPE) -> str:
    """GBNF for ``text <separator> text``, where neither text contains the separator.

    A text may hold ``<`` but never ``<|``, which is the separator's start; that also keeps
    the prompt's own tags out of the generation. The end token is allowed only once the
    whole rule has matched, i.e. after the separator.
    """
    if not separator.startswith("<|"):
        raise ValueError("the grammar is written for separators that start with '<|'")
    literal = separator.replace("\\", "\\\\").replace('"', '\\"')
    return f'root ::= part "{literal}" part\npart ::= ( [^<] | "<"+ [^|<] )* "<"*\n'
