"""Render tools and a dialog-so-far as prompt text shared by all agents of one dialog.

Every agent prompt starts with the same system message and the same transcript, and only the last
instruction differs: llama.cpp then reuses the whole shared prefix from its KV cache."""

from __future__ import annotations

import json

from localace.apis.spec import ApiSpec
from localace.backends.base import Message
from localace.calls import Call, render_calls
from localace.dialogs.model import Turn

SYSTEM = ("You simulate a conversation between a user and an AI assistant that can call tools. "
          "Follow the instruction at the end exactly and answer only with what it asks for.")


def tool_brief(api: ApiSpec) -> dict:
    props = api.parameters.get("properties", {})
    return {"name": api.name, "description": api.description,
            "parameters": {n: {k: v for k, v in s.items() if k in ("type", "description", "enum", "format")}
                           for n, s in props.items()},
            "required": api.parameters.get("required", [])}


def render_tools(tools: list[ApiSpec]) -> str:
    return "\n".join(json.dumps(tool_brief(t), ensure_ascii=False) for t in tools) or "(no tools)"


def render_turn(turn: Turn) -> str:
    if turn.role == "user":
        return f"User: {turn.content}"
    if turn.role == "tool":
        return "Tool results: " + json.dumps([r.model_dump() for r in turn.tool_results or []], ensure_ascii=False)
    if turn.tool_calls:
        return "Assistant calls: " + render_calls([Call(c.name, dict(c.arguments)) for c in turn.tool_calls])
    return f"Assistant: {turn.content}"


def agent_messages(tools: list[ApiSpec], turns: list[Turn], instruction: str) -> list[Message]:
    history = "\n".join(render_turn(t) for t in turns) or "(the conversation has not started)"
    return [
        {"role": "system", "content": f"{SYSTEM}\n\nTools available to the assistant:\n{render_tools(tools)}"},
        {"role": "user", "content": f"Conversation so far:\n{history}\n\n{instruction}"},
    ]
