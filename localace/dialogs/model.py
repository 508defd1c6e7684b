"""The dialog record: offered tools, turns, kind, domains, complexity and generation metadata."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from localace.apis.spec import ApiSpec
from localace.hashing import content_hash

Role = Literal["user", "assistant", "tool"]
KINDS = ("single", "parallel", "multiple", "dependent", "non_tool", "irrelevance", "ask_missing", "multi_turn")
# Assistant actions of the structured decision step.
ACTIONS = ("call", "ask_missing", "answer", "refuse_no_tool", "summarize")


class ToolCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    results: Any


class Turn(BaseModel):
    """user: content. assistant: content (text) or tool_calls. tool: tool_results (one per call)."""

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_results: list[ToolResult] | None = None
    action: str | None = None  # assistant only: the decided action (see ACTIONS)
    thought: str | None = None  # assistant only: the structured "thinking" before the action


class Dialog(BaseModel):
    kind: str
    tools: list[ApiSpec]
    turns: list[Turn]
    domains: list[str] = Field(default_factory=list)
    complexity: float | None = None
    seed: int = 0
    meta: dict[str, Any] = Field(default_factory=dict)  # style, self-consistency stats, run id, ...

    @property
    def id(self) -> str:
        """Content hash of what a trainer sees: tools, turns and kind."""
        return content_hash({"kind": self.kind, "tools": [t.id for t in self.tools],
                             "turns": [t.model_dump(mode="json", exclude={"thought"}) for t in self.turns]}, 16)

    @property
    def api_ids(self) -> list[str]:
        return [t.id for t in self.tools]

    def calls(self) -> list[ToolCall]:
        return [c for t in self.turns if t.tool_calls for c in t.tool_calls]
