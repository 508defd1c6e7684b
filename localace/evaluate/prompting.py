"""BFCL-style prompts: a system prompt that lists the functions, then the question's turns."""

from __future__ import annotations

import copy
import json
from typing import Any

from localace.backends.base import Message
from localace.evaluate.lang_values import JAVA, SEQUENCE_TYPES, language_of
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
# Java and JavaScript entries take every value as source text in that language (BFCL's convention).
_LANGUAGE_NAMES = {JAVA: "Java 8", "javascript": "JavaScript"}
_FUNCTION_NOTE = " The function is written in {language} syntax."
_VALUE_NOTE = " Give this {language} {type} value as a string of {language} code."
_ITEMS_NOTE = " Its items are of type {type}."
_ENTRIES_NOTE = " Its entries follow this schema: {schema}"

# Part of every cache key: editing the wording above must not reuse old generations.
TEMPLATE_HASH = content_hash(
    ["eval", _INTRO, _FORMATS, _FUNCTIONS_HEADER, _LANGUAGE_NAMES, _FUNCTION_NOTE, _VALUE_NOTE, _ITEMS_NOTE,
     _ENTRIES_NOTE], length=16,
)


def offered_functions(functions: list[dict[str, Any]], category: str | None = None) -> list[dict[str, Any]]:
    """The functions as the model sees them: Java and JavaScript parameters become strings of code,
    their declared type moved into the description (the checker converts the text back by that type)."""
    language = language_of(category or "")
    if language is None:
        return functions
    name = _LANGUAGE_NAMES[language]
    shown = []
    for function in copy.deepcopy(functions):
        function["description"] = f"{function.get('description', '')}{_FUNCTION_NOTE.format(language=name)}"
        properties = (function.get("parameters") or {}).get("properties") or {}
        for schema in properties.values():
            if not isinstance(schema, dict):
                continue
            note = _VALUE_NOTE.format(language=name, type=schema.get("type", "any"))
            items = schema.pop("items", None) if schema.get("type") in SEQUENCE_TYPES else None
            if isinstance(items, dict):
                note += _ITEMS_NOTE.format(type=items.get("type", "any"))
            entries = schema.pop("properties", None) if schema.get("type") == "dict" else None
            if entries:
                note += _ENTRIES_NOTE.format(schema=json.dumps(entries, ensure_ascii=False))
            schema["description"] = f"{schema.get('description', '')}{note}"
            schema["type"] = "string"
        shown.append(function)
    return shown


def system_prompt(functions: list[dict[str, Any]], mode: str = PROMPT) -> str:
    """The function-calling instructions with the function documents appended as JSON."""
    listing = json.dumps(functions, ensure_ascii=False)
    return f"{_INTRO}\n\n{_FORMATS[mode]}\n\n{_FUNCTIONS_HEADER}\n{listing}"


def build_messages(entry: dict[str, Any], mode: str = PROMPT, category: str | None = None) -> list[Message]:
    """Chat messages for one BFCL entry: our system prompt, then every turn of its question.

    A system message inside the question is kept by appending it to ours, so the model still
    sees a single system message first (chat templates often allow only one)."""
    system = system_prompt(offered_functions(entry["function"], category), mode)
    messages: list[Message] = []
    for turn in entry["question"]:
        for message in turn:
            if message["role"] == "system":
                system = f"{system}\n\n{message['content']}"
            else:
                messages.append({"role": message["role"], "content": message["content"]})
    return [{"role": "system", "content": system}, *messages]
