"""Does a user turn speak as a user? Small models narrate the task or slip into the assistant's voice."""

from __future__ import annotations

import re

# Talk about the conversation instead of taking part in it.
_NARRATION = (
    r"\bthe user(?:'s)?\b", r"\bthe assistant\b", r"\bthe ai\b", r"\bas an ai\b", r"\bai (?:language )?model\b",
    r"\bthe (?:task|prompt|instruction|conversation|dialog(?:ue)?)\b", r"\bthis (?:task|prompt|instruction)\b",
    r"\buser(?:'s)? (?:message|request|query)\b", r"\b(?:write|writing) (?:the|a|my) (?:message|request|reply)\b",
    r"\bthe (?:tool|function|api) (?:call|named|called)\b", r"\bcalls? the (?:tool|function|api)\b",
)
# The assistant's lines in a user's mouth.
_ASSISTANT_VOICE = (
    r"\bi'?m here to help\b", r"\bi am here to help\b", r"\bhow (?:can|may) i (?:help|assist)\b",
    r"\bi(?:'m| am) (?:now )?ready to (?:help|assist)\b", r"\bhappy to (?:help|assist)\b",
    r"\bi(?:'m| am)\b[^.?!]{0,40}\b(?:ai|assistant|chatbot|language model|virtual helper)\b",
    r"\bdesigned to help\b",
    r"\bi can help you\b", r"\bi will help you\b", r"\blet me (?:help|assist) you\b", r"\bhere (?:is|are) (?:the|your)\b",
    r"\bi(?:'ll| will) (?:now )?(?:call|use|run) the\b", r"\bfeel free to ask\b",
    r"\bis there anything else i can\b",
)
_PATTERNS = tuple((re.compile(p, re.I), "narrates") for p in _NARRATION) + tuple(
    (re.compile(p, re.I), "speaks as the assistant") for p in _ASSISTANT_VOICE)


def voice_problem(text: str) -> str | None:
    """Why a user turn is not written as a user ('narrates: "the user wants"'), or None."""
    for pattern, what in _PATTERNS:
        hit = pattern.search(text)
        if hit:
            return f'{what}: "{hit.group(0)}"'
    return None


_ASSISTANT_NARRATION = tuple(re.compile(p, re.I) for p in (
    r"\bthe user(?:'s)?\b", r"\bthe assistant\b", r"\bthe tool results?\b", r"\bsummari[sz]e[sd]? (?:the|them)\b",
    r"\b(?:this|the) (?:task|prompt|instruction)\b", r"\bexact values\b"))


def assistant_voice_problem(text: str) -> str | None:
    """Why an assistant text talks about the conversation instead of to the user, or None."""
    for pattern in _ASSISTANT_NARRATION:
        if hit := pattern.search(text):
            return f'narrates: "{hit.group(0)}"'
    return None
