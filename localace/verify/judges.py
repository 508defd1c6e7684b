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
from localace.tasks import Request, Task, run_task

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
    """Resolve `auto`: judges enforce, except that a small local model (< 1 GiB) judges near chance, so its
    judges are off (ask for `advisory` to record its verdicts anyway)."""
    model = getattr(backend, "model", None)
    path = getattr(model, "path", None)
    return judge_mode_for_size(requested, path.stat().st_size if path is not None and requested == "auto" else None)


def judge_mode_for_size(requested: str, model_bytes: int | None) -> str:
    """judge_mode from the judge GGUF's size (None: not a GGUF), e.g. as a cluster node reported it."""
    if requested != "auto":
        return requested
    # A judge that cannot enforce would cost four calls a dialog and change nothing that is kept: off.
    return "off" if model_bytes is not None and model_bytes < WEAK_JUDGE_BYTES else "enforce"


class Judges:
    """The model layer as tasks (localace/tasks.py): `verdicts(dialog)` yields the judges' requests and
    returns their Judgements; `judge(check, dialog)` runs one judge on its own."""

    def __init__(self, gen: CachedBackend, *, samples: int = 1, seed: int = 0, enforce: bool = True,
                 role: str = "") -> None:
        self.gen, self.samples, self.seed, self.enforce = gen, samples, seed, enforce
        self.role = role  # which of the driver's backends serves the judges ("" the stage's own)

    def verdicts(self, dialog: Dialog) -> Task[list[Judgement]]:
        """Every judge, in order. Enforced, they run one after another and stop at the first failure (its
        verdict rejects the dialog, so the later ones are not asked); advisory, every judge is asked, so
        all their requests go out together."""
        if self.enforce:
            out = []
            for check in JUDGES:
                out.append((yield from self.judge_task(check, dialog)))
                if not out[-1].passed:
                    break
            return out
        asks = [self._requests(check, dialog) for check in JUDGES]
        results = yield [request for requests in asks for request in requests]
        out, at = [], 0
        for check, requests in zip(JUDGES, asks):
            out.append(self._tally(check, results[at: at + len(requests)]))
            at += len(requests)
        return out

    def judge_task(self, check: str, dialog: Dialog) -> Task[Judgement]:
        results = (yield self._requests(check, dialog)) if _applies(check, dialog) else []
        return self._tally(check, results)

    def judge(self, check: str, dialog: Dialog) -> Judgement:
        return run_task(self.judge_task(check, dialog), self.gen)

    def _requests(self, check: str, dialog: Dialog) -> list[Request]:
        """The samples of one judge (none when the judge does not apply); they may run together."""
        if not _applies(check, dialog):
            return []
        prompt = load_prompt(check)
        messages = agent_messages(dialog.tools, dialog.turns, prompt.render())
        return [Request(messages, output=VERDICT, template_hash=prompt.hash, model=self.role,
                        sampling=Sampling(temperature=0.0 if self.samples == 1 else 0.7, max_tokens=200,
                                          seed=int(content_hash([self.seed, dialog.id, check, i], 8), 16)))
                for i in range(self.samples)]

    def _tally(self, check: str, results: list[Any]) -> Judgement:
        if not results:
            return Judgement(check, True, "not applicable")
        votes: list[dict[str, Any]] = [
            {"verdict": "fail", "reason": f"judge produced no verdict ({r.kind})"} if isinstance(r, GenerationError)
            else r.value for r in results]
        tally = Counter(v["verdict"] for v in votes)
        passed = tally["pass"] > tally["fail"]
        reason = next(v["reason"] for v in votes if (v["verdict"] == "pass") == passed)
        return Judgement(check, passed, reason if self.samples == 1 else f"{tally['pass']}/{self.samples} pass: {reason}")
