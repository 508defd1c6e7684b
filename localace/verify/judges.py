"""Model layer of verification: one judge per question, each a constrained short verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from localace.backends.base import Output, Sampling
from localace.dialogs.model import Dialog
from localace.dialogs.transcript import agent_messages
from localace.errors import GenerationError
from localace.hashing import content_hash
from localace.prompts import load_prompt
from localace.store.cache import CachedBackend

# Reason first: the verdict is then conditioned on the model's stated reasoning.
VERDICT = Output.json({
    "type": "object",
    # A sentence of three or more words: a bare "pass"/"fail" is not a reason.
    "properties": {"reason": {"type": "string", "maxLength": 300,
                              "pattern": "^[A-Za-z][^\\x00-\\x1f]* [^\\x00-\\x1f]+ [^\\x00-\\x1f]+$"},
                   "verdict": {"type": "string", "enum": ["pass", "fail"]}},
    "required": ["reason", "verdict"],
    "additionalProperties": False,
})


@dataclass(frozen=True)
class Judgement:
    check: str
    passed: bool
    reason: str


def _applies(check: str, dialog: Dialog) -> bool:
    """A judge only speaks when its subject exists: no calls → nothing can be invented."""
    if check == "judge_hallucination":
        return bool(dialog.calls())
    if check == "judge_tool_response":
        return any(t.role == "tool" for t in dialog.turns)
    return True


JUDGES = ("judge_hallucination", "judge_consistency", "judge_tool_response", "judge_repetition")


WEAK_JUDGE_BYTES = 1 << 30  # GGUFs under 1 GiB (about <1.5B parameters at 4 bits) judge near chance


def judge_mode(requested: str, backend: object) -> str:
    """Resolve `auto`: small local models record advisory verdicts instead of rejecting on them."""
    model = getattr(backend, "model", None)
    path = getattr(model, "path", None)
    return judge_mode_for_size(requested, path.stat().st_size if path is not None and requested == "auto" else None)


def judge_mode_for_size(requested: str, model_bytes: int | None) -> str:
    """judge_mode from the judge GGUF's size (None: not a GGUF), e.g. as a cluster node reported it."""
    if requested != "auto":
        return requested
    return "advisory" if model_bytes is not None and model_bytes < WEAK_JUDGE_BYTES else "enforce"


class Judges:
    def __init__(self, gen: CachedBackend, *, samples: int = 1, seed: int = 0, enforce: bool = True) -> None:
        self.gen, self.samples, self.seed, self.enforce = gen, samples, seed, enforce

    def judge(self, check: str, dialog: Dialog) -> Judgement:
        if not _applies(check, dialog):
            return Judgement(check, True, "not applicable")
        prompt = load_prompt(check)
        messages = agent_messages(dialog.tools, dialog.turns, prompt.render())
        votes: list[dict[str, Any]] = []
        for i in range(self.samples):
            sampling = Sampling(temperature=0.0 if self.samples == 1 else 0.7,
                                seed=int(content_hash([self.seed, dialog.id, check, i], 8), 16), max_tokens=200)
            try:
                votes.append(self.gen.generate(messages, output=VERDICT, sampling=sampling,
                                               template_hash=prompt.hash).value)
            except GenerationError as e:
                votes.append({"verdict": "fail", "reason": f"judge produced no verdict ({e.kind})"})
        tally = Counter(v["verdict"] for v in votes)
        passed = tally["pass"] > tally["fail"]
        reason = next(v["reason"] for v in votes if (v["verdict"] == "pass") == passed)
        return Judgement(check, passed, reason if self.samples == 1 else f"{tally['pass']}/{self.samples} pass: {reason}")
