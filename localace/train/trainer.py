"""The LoRA training loop: AdamW over the adapter only, loss on assistant tokens, checkpoints in the store.

Deterministic on CPU: the adapter is initialised from the seed, every epoch's example order is drawn from
(seed, epoch), there is no dropout, and a checkpoint holds the adapter, the optimizer state and the step, so
a run killed after step k and resumed computes exactly what an uninterrupted run computes after step k
(given the same torch build and thread count)."""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from localace.runs import Run, ensure_run, set_run_status
from localace.store.db import Store
from localace.train.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from localace.train.examples import Example, ExampleSet
from localace.train.gguf_model import PROJECTIONS, GgufModel
from localace.train.gguf_write import write_adapter, write_merged
from localace.train.llama import Lora, TorchLlama, lora_shapes, lora_state


@dataclass(frozen=True)
class TrainConfig:
    rank: int = 8
    alpha: float = 16.0
    lr: float = 1e-3
    epochs: int = 2
    batch: int = 8  # examples per optimizer step (gradients accumulated one sequence at a time)
    weight_decay: float = 0.0
    warmup: float = 0.05  # share of the steps with a linearly rising learning rate; then linear decay to 0
    max_grad_norm: float = 1.0
    seed: int = 0
    projections: tuple[str, ...] = PROJECTIONS


@dataclass(frozen=True)
class StepEvent:
    step: int  # steps done, this one included
    total_steps: int
    epoch: int
    loss: float  # mean cross-entropy per assistant token of this step's batch
    tokens: int  # tokens run forward and backward in this step
    seconds: float


def training_run(store: Store, model_sha256: str, examples: ExampleSet, cfg: TrainConfig, fmt: str) -> Run:
    """The store's run for exactly this model, data and configuration: created once, resumed afterwards."""
    record = {"model_sha256": model_sha256, "data": examples.digest(), "examples": len(examples.examples),
              "format": fmt, **asdict(cfg)}
    return ensure_run(store, "train", record)


class Trainer:
    """One training run over a frozen GGUF model; `steps()` trains from the last checkpoint to the end.
    `threads` sets torch's (process-wide) thread count."""

    def __init__(self, store: Store, model: GgufModel, examples: list[Example], cfg: TrainConfig, run_id: str,
                 *, save_every: int = 10, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.store, self.cfg, self.run_id, self.save_every = store, cfg, run_id, max(1, save_every)
        self.examples = examples
        self.arch = model.arch
        self.base = TorchLlama(model)
        for weight in self.base.weights.values():
            weight.requires_grad_(False)
        self.lora = Lora(lora_shapes(model, cfg.projections), cfg.rank, cfg.alpha, cfg.seed)
        self.optimizer = torch.optim.AdamW(self.lora.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.steps_per_epoch = math.ceil(len(examples) / cfg.batch)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.step = 0
        self.losses: list[float] = []
        self.tokens = 0  # tokens trained on and seconds spent in steps, over every session of this run
        self.seconds = 0.0
        checkpoint = load_checkpoint(store, run_id)
        if checkpoint is not None:
            self._restore(checkpoint)
        self.resumed_from = self.step

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    def _restore(self, checkpoint: Checkpoint) -> None:
        state = torch.load(io.BytesIO(checkpoint.state), weights_only=True)
        self.lora.load_state_dict(state["lora"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.losses = list(state["losses"])
        self.tokens, self.seconds = int(state["tokens"]), float(state["seconds"])
        self.step = checkpoint.step

    def _save(self) -> None:
        buffer = io.BytesIO()
        torch.save({"lora": self.lora.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "losses": self.losses, "tokens": self.tokens, "seconds": self.seconds}, buffer)
        save_checkpoint(self.store, self.run_id, Checkpoint(self.step, self.total_steps, buffer.getvalue()))

    def lr_at(self, step: int) -> float:
        """Learning rate of the step with 0-based index `step`."""
        warm = max(1, round(self.cfg.warmup * self.total_steps))
        if step < warm:
            return self.cfg.lr * (step + 1) / warm
        return self.cfg.lr * max(0.0, (self.total_steps - step) / max(1, self.total_steps - warm))

    def batch_at(self, step: int) -> tuple[int, list[int]]:
        """(epoch, example indices) of the step with 0-based index `step`: a pure function of seed and step."""
        epoch, index = divmod(step, self.steps_per_epoch)
        order = list(range(len(self.examples)))
        random.Random(f"{self.cfg.seed}:{epoch}").shuffle(order)
        return epoch, order[index * self.cfg.batch: (index + 1) * self.cfg.batch]

    def _train_step(self, indices: list[int]) -> tuple[float, int]:
        batch = [self.examples[i] for i in indices]
        n_targets = sum(e.target_tokens for e in batch)
        total_loss, tokens = 0.0, 0
        for example in batch:
            ids = torch.tensor(example.tokens, dtype=torch.long)
            # Hidden state at position p predicts token p + 1: only positions before a target token are scored.
            positions = torch.tensor([p - 1 for start, end in example.spans for p in range(start, end)])
            hidden = self.base.hidden(ids[:-1], self.lora)
            logits = self.base.logits(hidden[positions])
            loss = F.cross_entropy(logits, ids[positions + 1], reduction="sum") / n_targets
            loss.backward()
            total_loss += loss.item()
            tokens += len(example.tokens) - 1
        torch.nn.utils.clip_grad_norm_(self.lora.parameters(), self.cfg.max_grad_norm)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total_loss, tokens

    def steps(self) -> Iterator[StepEvent]:
        """Train to the end, one event per optimizer step, checkpointing every save_every steps and at the end."""
        while self.step < self.total_steps:
            epoch, indices = self.batch_at(self.step)
            start = time.perf_counter()
            loss, tokens = self._train_step(indices)
            seconds = time.perf_counter() - start
            self.step += 1
            self.losses.append(loss)
            self.tokens += tokens
            self.seconds += seconds
            if self.step % self.save_every == 0 or self.step == self.total_steps:
                self._save()
            yield StepEvent(self.step, self.total_steps, epoch, loss, tokens, seconds)

    def factors(self) -> dict[str, Any]:
        return lora_state(self.lora)

    def write_adapter(self, path: str | Path) -> Path:
        return write_adapter(path, self.arch, self.lora.alpha, self.factors())

    def write_merged(self, path: str | Path, model: GgufModel, dtype: str) -> Path:
        merged = {name: weight.numpy() for name, weight in self.base.merged(self.lora).items()}
        return write_merged(path, model, merged, dtype)

    def report(self) -> dict[str, Any]:
        first = self.losses[: self.steps_per_epoch]
        last = self.losses[-self.steps_per_epoch:]
        return {"steps": self.step, "total_steps": self.total_steps, "examples": len(self.examples),
                "first_epoch_loss": _mean(first), "last_epoch_loss": _mean(last), "tokens": self.tokens,
                "seconds": round(self.seconds, 3),
                "tokens_per_s": round(self.tokens / self.seconds, 1) if self.seconds else None}

    def finish(self) -> None:
        set_run_status(self.store, self.run_id, "done", self.report())


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None
