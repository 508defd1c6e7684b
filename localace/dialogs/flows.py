"""One scripted flow per dialog kind; every turn's content comes from an agent under a constraint."""

from __future__ import annotations

from localace.dialogs.agents import DialogBuilder
from localace.dialogs.plans import Plan, details

HINT_CALL = "A tool fits the user's request and the needed values are known, so the assistant calls it."
HINT_NEXT = "The previous tool result gives what the next tool needs, so the assistant calls the next tool."
HINT_SUMMARY = "The tool results are in, so the assistant summarizes them for the user."
HINT_ASK = "A required value is missing from the user's request, so the assistant asks for it."
HINT_CHAT = "The user is chatting or asking something general; no tool is needed."
HINT_NO_TOOL = "None of the available tools can do what the user asks, so the assistant must not call a tool."


def _call_and_summarize(b: DialogBuilder, plan: Plan, targets: list, *, low: int = 1, high: int = 1,
                        callable_apis: list | None = None) -> None:
    apis = plan.offered if callable_apis is None else callable_apis
    b.assistant(("call",), HINT_CALL, call_apis=apis, low=low, high=high, expect={t.name for t in targets})
    b.assistant(("summarize",), HINT_SUMMARY)


def run_flow(b: DialogBuilder, plan: Plan, difficulty: str = "normal") -> None:
    """Fill `b.turns` for `plan.kind`; raises DialogRejected when a step cannot be done right."""
    kind, style = plan.kind, plan.style
    if kind in ("single", "multiple"):
        api = plan.targets[0]
        b.user(f"user_{kind}", style=style, api=api, details=details(api), difficulty=difficulty)
        _call_and_summarize(b, plan, [api])
    elif kind == "parallel":
        apis = plan.targets
        joined = "; ".join(details(a) for a in apis)
        b.user("user_parallel", style=style, apis=apis, count=2, details=joined, difficulty=difficulty)
        b.assistant(("call",), HINT_CALL, call_apis=apis, low=2, high=2, expect={a.name for a in apis})
        b.assistant(("summarize",), HINT_SUMMARY)
    elif kind == "dependent":
        first, second = plan.targets
        b.user("user_dependent", style=style, first=first, second=second, details=details(first),
               difficulty=difficulty)
        b.assistant(("call",), HINT_CALL, call_apis=[first], expect={first.name})
        b.assistant(("call",), HINT_NEXT, call_apis=[second], expect={second.name})
        b.assistant(("summarize",), HINT_SUMMARY)
    elif kind == "non_tool":
        b.user("user_non_tool", style=style, topic=plan.topic)
        b.assistant(("answer",), HINT_CHAT)
    elif kind == "irrelevance":
        b.user("user_irrelevance", style=style, topic=plan.topic)
        b.assistant(("refuse_no_tool", "answer"), HINT_NO_TOOL)
    elif kind == "ask_missing":
        api, missing = plan.targets[0], plan.missing or ""
        desc = api.parameters["properties"][missing].get("description", missing)
        b.user("user_ask_missing", style=style, api=api, details=details(api, skip=missing), missing=missing,
               missing_description=desc)
        b.assistant(("ask_missing",), HINT_ASK, missing=missing, missing_description=desc)
        b.user("user_supply_missing", missing=missing, missing_description=desc)
        _call_and_summarize(b, plan, [api])
    elif kind == "multi_turn":
        first, second = plan.targets
        b.user("user_single", style=style, api=first, details=details(first), difficulty=difficulty)
        _call_and_summarize(b, plan, [first])
        b.user("user_followup", style=style, api=second, details=details(second))
        # The tool just used stays in the tool list but not in this call's constraint: a small model otherwise
        # copies the previous call (SmolLM2-135M did in every multi_turn attempt of a 100-dialog run), and the
        # follow-up asks for something else by construction. The choice among the other tools remains.
        _call_and_summarize(b, plan, [second], callable_apis=[a for a in plan.offered if a.name != first.name])
    else:
        raise ValueError(f"unknown dialog kind {kind!r}")
