"""Stage C: rules then judges over a run's generated dialogs; one transaction per dialog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

from localace.apis.spec import STORED
from localace.dialogs.model import Dialog
from localace.hashing import content_hash
from localace.scheduler import run_tasks
from localace.store.db import Store, utcnow
from localace.tasks import Task
from localace.verify.judges import Judges
from localace.verify.rules import RULE_CHECKS, check_dialog, first_failure


@dataclass(frozen=True)
class VerifyEvent:
    dialog_id: str
    kept: bool
    rejected_at: str | None
    reason: str | None


@dataclass(frozen=True)
class _Verified:
    rows: list[dict]
    rejected_at: str | None
    reason: str | None


def _verdict_row(dialog_id: str, stage: str, check: str, passed: bool, reason: str | None) -> dict:
    return {"id": content_hash([dialog_id, stage, check], 16), "dialog_id": dialog_id, "stage": stage,
            "check_name": check, "passed": int(passed), "reason": (reason or "")[:1000], "created_at": utcnow()}


def pending(store: Store, run_id: str) -> list[tuple[str, str]]:
    return store.conn.execute(
        "SELECT id, data_json FROM dialogs WHERE run_id=? AND status='generated' ORDER BY seq", (run_id,)).fetchall()


def verify_task(dialog_id: str, dialog: Dialog, judges: Judges | None, max_chars: int | None) -> Task[_Verified]:
    """Rules, then (when they pass) the judges; returns the verdict rows and where it was rejected."""
    findings = check_dialog(dialog, max_chars=max_chars)
    rows = []
    for check in RULE_CHECKS:
        hits = [f for f in findings if f.check == check]
        rows.append(_verdict_row(dialog_id, "rules", check, not hits, "; ".join(str(f) for f in hits[:3])))
    rejected_at = first_failure(findings)
    reason = next((str(f) for f in findings if f.check == rejected_at), None)
    if rejected_at is None and judges is not None:
        for j in (yield from judges.verdicts(dialog)):
            rows.append(_verdict_row(dialog_id, "judges", j.check, j.passed, j.reason))
            if not j.passed and judges.enforce and rejected_at is None:
                rejected_at, reason = j.check, j.reason
    return _Verified(rows, rejected_at, reason)


def gate(judges: Judges | None, max_chars: int | None = None) -> "Callable[[Dialog], Task[tuple[str, str] | None]]":
    """The checks a new dialog must pass to count toward a run's target: the rule layer, then the judges when
    they enforce. (check, reason) of the first failure, or None; the verify stage later records the same
    verdicts from the cache."""
    enforcing = judges if judges is not None and judges.enforce else None

    def check(dialog: Dialog) -> Task[tuple[str, str] | None]:
        verified = yield from verify_task(dialog.id, dialog, enforcing, max_chars)
        if verified.rejected_at is None:
            return None
        return f"verify:{verified.rejected_at}", verified.reason or ""
    return check


def verify_run(store: Store, run_id: str, judges: Judges | None, *, max_chars: int | None = None,
               parallel: int = 1) -> Iterator[VerifyEvent]:
    """Verify every dialog of the run still marked 'generated'; rejected ones keep their reasons.

    `parallel` dialogs are judged at once (their judge calls decoded together); results are committed
    one dialog per transaction in the run's order, so a killed run resumes where its commits stopped."""
    todo = pending(store, run_id)
    tasks = (verify_task(dialog_id, Dialog.model_validate_json(data, context=STORED), judges, max_chars)
             for dialog_id, data in todo)
    with closing(run_tasks(tasks, judges.gen if judges else None, parallel=parallel)) as outcomes:
        for (dialog_id, _), outcome in zip(todo, outcomes):
            verified = outcome.unwrap()
            with store.transaction():
                for row in verified.rows:
                    store.db["verdicts"].insert(row, replace=True)
                store.conn.execute("UPDATE dialogs SET status=?, rejected_at=? WHERE id=?",
                                   ("rejected" if verified.rejected_at else "kept", verified.rejected_at, dialog_id))
            yield VerifyEvent(dialog_id, verified.rejected_at is None, verified.rejected_at, verified.reason)
