"""Complexity: mean token loss of the assistant turns under a 'learner' model (ToolACE §complexity)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from localace.backends.base import Message
from localace.calls import Call, render_calls
from localace.dialogs.model import Dialog
from localace.dialogs.transcript import render_tools
from localace.tasks import Request, Task, run_task

LEARNER_SYSTEM = "You are a helpful assistant. You can call these tools:\n"


def learner_view(dialog: Dialog) -> list[tuple[list[Message], str]]:
    """(context, assistant reply) pairs as a model trained on this dialog would see them."""
    messages: list[Message] = [{"role": "system", "content": LEARNER_SYSTEM + render_tools(dialog.tools)}]
    pairs = []
    for turn in dialog.turns:
        if turn.role == "user":
            messages.append({"role": "user", "content": turn.content or ""})
        elif turn.role == "tool":
            messages.append({"role": "tool", "content": json.dumps(
                [r.model_dump() for r in turn.tool_results or []], ensure_ascii=False)})
        else:
            text = render_calls([Call(c.name, dict(c.arguments)) for c in turn.tool_calls]) if turn.tool_calls \
                else turn.content or ""
            pairs.append((list(messages), text))
            messages.append({"role": "assistant", "content": text})
    return pairs


def mean_loss_task(dialog: Dialog, model: str = "") -> Task[float]:
    """Mean negative log-likelihood per assistant token under the learner (`model`: its role in the driver)."""
    results = yield [Request(context, op="score", target=reply, model=model) for context, reply in learner_view(dialog)]
    total, tokens = 0.0, 0
    for logprob, n in results:
        total, tokens = total - logprob, tokens + n
    return round(total / tokens, 4) if tokens else 0.0


def mean_loss(scorer, dialog: Dialog) -> float:
    """mean_loss_task served by `scorer` (anything with `score(messages, target)`), one reply at a time."""
    return run_task(mean_loss_task(dialog), scorer)


@dataclass(frozen=True)
class Band:
    """Keep dialogs whose score lies between two percentiles of the scores seen so far."""

    low_pct: float = 10.0
    high_pct: float = 90.0
    warmup: int = 8  # below this many scores, every dialog is in band

    def limits(self, scores: list[float]) -> tuple[float, float] | None:
        if len(scores) < self.warmup:
            return None
        ordered = sorted(scores)
        return _percentile(ordered, self.low_pct), _percentile(ordered, self.high_pct)

    def classify(self, score: float, scores: list[float]) -> str:
        """'easy', 'hard' or 'ok'."""
        lim = self.limits(scores)
        if lim is None:
            return "ok"
        if score < lim[0]:
            return "easy"
        if score > lim[1]:
            return "hard"
        return "ok"


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
