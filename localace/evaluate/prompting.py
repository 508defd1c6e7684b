"""BFCL-style prompts: a system prompt that lists the functions, then the question's turns."""

from __future__ import annotations

import json
from typing import Any

from localace.backends.base import Message
from localace.hashing import content_hash

PROMPT = "prompt"
CONSTRAINED = "constrained"
MODES = (PROMPT, CONSTRAINED)

_INTRO = (
    "You are an expert at composing function calls. You receive a question and a list of "
    "functions you may call. Answer the question with one or more calls to these functions. "
    "If none of the functions fits the question, or the question lacks values a function "
    "requires, make no call and say so."
)
_FORMATS = {
    PROMPT: (
        "Reply with the list of calls only, with no other text, written like this:\n"
        "[func_name1(param_name1=value1, param_name2=value2), func_name2(param_name=value)]"
    ),
    CONSTRAINED: (
        'Reply with a JSON object {"calls": [{"name": function name, "arguments": {parameter: value}}]}; '
        'an empty "calls" list means that no function fits.'
    ),
}
_FUNCTIONS_HEADER = "Here are the functions you can call, in JSON:"

# Part of every cache key: editing the wording above must not reuse old generations.
TEMPLATE_HASH = content_hash(["eval", _INTRO, _FORMATS, _FUNCTIONS_HEADER], length=16)


def system_prompt(functions: list[dict[str, Any]], mode: str = PROMPT) -> str:
    """The function-calling instructions with the function documents appended as JSON."""
    listing = json.dumps(functions, ensure_ascii=False)
    return f"{_INTRO}\n\n{_FORMATS[mode]}\n\n{_FUNCTIONS_HEADER}\n{listing}"


def build_messages(entry: dict[str, Any], mode: str = PROMPT) -> list[Message]:
    """Chat messages for one BFCL entry: our system prompt, then every turn of its question.

    A system message inside the question is kept by appending it to ours, so the model still
    sees a single system message first (chat templates often allow only one)."""
    system = system_prompt(entry["function"], mode)
    messages: list[Message] = []
    for turn in entry["question"]:
        for message in turn:
            if message["role"] == "system":
                system = f"{system}\n\n{message['content']}"
            else:
                messages.append({"role": message["role"], "content": message["content"]})
    return [{"role": "system", "content": system}, *messages]
