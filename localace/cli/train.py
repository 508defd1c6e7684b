"""`localace train`: LoRA fine-tuning of a GGUF model on kept dialogs, offline, writing a llama.cpp adapter."""

from __future__ import annotations

import os
from pathlib import Path

import click

from localace.cli.common import (
    db_option, err, existing_store, handle_errors, out, print_json, seed_option,
)
from localace.cli.progress import progress
from localace.errors import UserError
from localace.formats.registry import IMPORT_FORMATS
from localace.train.examples import DEFAULT_FORMAT, TRAIN_FORMATS

MERGE_CHOICES = ("f16",)


def merged_path(out_path: Path, dtype: str) -> Path:
    """Where --merge writes the full model: next to the adapter, e.g. adapter.gguf -> adapter.merged-f16.gguf."""
    return out_path.with_name(f"{out_path.stem}.merged-{dtype}.gguf")


@click.command("train")
@db_option
# Only --model: training runs in torch on the CPU, so model_option's --n-gpu-layers would promise nothing.
@click.option("--model", "model", envvar="LOCALACE_MODEL", default=None,
              help="Catalogue name or path to a .gguf (env LOCALACE_MODEL); default: the embedded model.")
@click.option("--run", "run_id", default=None, help="Dialog run to train on (default: kept dialogs of every run).")
@click.option("--data", "data_path", default=None, help="Train on this dataset file instead of the database's dialogs.")
@click.option("--data-format", type=click.Choice(IMPORT_FORMATS), default=None,
              help="Format of --data (any format `localace import` reads).")
@click.option("--format", "fmt", type=click.Choice(TRAIN_FORMATS), default=DEFAULT_FORMAT, show_default=True,
              help="How dialogs are rendered for training; toolace writes calls the way `localace eval` prompt mode asks.")
@click.option("--out", "out_path", required=True, help="The LoRA adapter GGUF to write (load it with --lora).")
@click.option("--rank", type=click.IntRange(1, 512), default=8, show_default=True)
@click.option("--alpha", type=click.FloatRange(0, min_open=True), default=None, help="LoRA alpha [default: 2 x rank].")
@click.option("--lr", type=click.FloatRange(0, 1, min_open=True), default=1e-3, show_default=True)
@click.option("--epochs", type=click.IntRange(1, 1000), default=2, show_default=True)
@click.option("--batch", type=click.IntRange(1, 100000), default=8, show_default=True, help="Examples per optimizer step.")
@click.option("--max-tokens", type=click.IntRange(16, 1 << 20), default=2048, show_default=True,
              help="Leave out (and count) examples longer than this many tokens.")
@click.option("--save-every", type=click.IntRange(1, 1 << 30), default=10, show_default=True,
              help="Checkpoint into --db every N steps (a killed training resumes from the last one).")
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="torch threads [default: LOCALACE_THREADS, else all cores].")
@click.option("--merge", type=click.Choice(MERGE_CHOICES), default=None,
              help="Also write the full model with the adapter merged in (<out>.merged-f16.gguf); never requantized.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@seed_option
@handle_errors
def train_cmd(db_path: str, model: str | None, run_id: str | None, data_path: str | None, data_format: str | None,
              fmt: str, out_path: str, rank: int, alpha: float | None, lr: float, epochs: int, batch: int,
              max_tokens: int, save_every: int, threads: int | None, merge: str | None, as_json: bool,
              seed: int) -> None:
    """Fine-tune a LoRA adapter on kept dialogs; run the same command again to resume a killed training."""
    from localace.train import require_train_extra

    require_train_extra()
    from localace.backends import FAKE_MODEL
    from localace.model_catalogue import resolve_model
    from localace.train.examples import ChatTokenizer, build_examples
    from localace.train.gguf_model import GgufModel
    from localace.train.trainer import TrainConfig, Trainer, training_run

    if model == FAKE_MODEL:
        raise UserError("training needs a GGUF model (--model NAME or PATH.gguf), not the fake backend")
    out_file = Path(out_path).expanduser()
    if not out_file.parent.exists():
        raise UserError(f"cannot write {out_file}: folder {out_file.parent} does not exist")
    if data_path and run_id:
        raise UserError("--data and --run exclude each other: train on a file or on a run of the database")
    if data_path and not data_format:
        raise UserError(f"--data needs --data-format ({', '.join(IMPORT_FORMATS)})")
    ref = resolve_model(model)
    store, dialogs = _training_dialogs(db_path, run_id, data_path, data_format)
    with err.status(f"reading {ref.path.name} and tokenizing {len(dialogs)} dialogs…"):
        gguf_model = GgufModel(ref.path)
        gguf_model.config  # refuses an unsupported architecture before anything is tokenized
        examples = build_examples(dialogs, fmt, ChatTokenizer(ref), seed=seed, max_tokens=max_tokens)
    skipped = ", ".join(f"{n} {reason}" for reason, n in examples.skipped.most_common())
    if not examples.examples:
        raise UserError(f"none of the {len(dialogs)} dialogs became a training example ({skipped})")
    cfg = TrainConfig(rank=rank, alpha=alpha if alpha is not None else 2.0 * rank, lr=lr, epochs=epochs,
                      batch=batch, seed=seed)
    run = training_run(store, store.file_hash(ref.path), examples, cfg, fmt)
    threads = threads or int(os.environ.get("LOCALACE_THREADS", "0") or 0) or os.cpu_count() or 1
    with err.status("loading and dequantizing the model…"):
        trainer = Trainer(store, gguf_model, examples.examples, cfg, run.id, save_every=save_every, threads=threads)
    state = ("already trained; writing its adapter again" if trainer.done
             else f"resuming at step {trainer.resumed_from}" if trainer.resumed_from else "new")
    err.print(f"train run {run.id} ({state}): {len(examples.examples)} examples from {len(dialogs)} dialogs, "
              f"{examples.tokens:,} tokens ({examples.target_tokens:,} trained), {trainer.total_steps} steps, "
              f"{threads} threads" + (f"; left out: {skipped}" if skipped else ""), markup=False)
    _run_steps(trainer)
    trainer.finish()
    adapter = trainer.write_adapter(out_file)
    report = {"run": run.id, "adapter": str(adapter), "adapter_bytes": adapter.stat().st_size, "rank": rank,
              **trainer.report(), "target_tokens": examples.target_tokens, "dialogs": len(dialogs),
              "skipped": dict(examples.skipped), "threads": threads}
    if merge:
        with err.status(f"writing the merged {merge} model…"):
            report["merged"] = str(trainer.write_merged(merged_path(out_file, merge), gguf_model, merge))
    if as_json:
        print_json(report)
        return
    speed = f", {report['tokens_per_s']:,.0f} tokens/s" if report["tokens_per_s"] else ""
    out.print(f"wrote {adapter} ({report['adapter_bytes'] / 1e6:.1f} MB, rank {rank}); loss "
              f"{report['first_epoch_loss']} (first epoch) → {report['last_epoch_loss']} (last epoch){speed}",
              markup=False)
    if merge:
        size = Path(report["merged"]).stat().st_size
        out.print(f"wrote {report['merged']} ({size / 1e6:.0f} MB, {merge}, adapter merged)", markup=False)
    out.print(f"next: localace eval --lora {adapter} --data BFCL_FILE", markup=False)


def _training_dialogs(db_path: str, run_id: str | None, data_path: str | None, data_format: str | None):
    """(store for the checkpoints, dialogs to train on): a dataset file's, or the database's kept ones."""
    from localace.formats.ingest import read_dialogs
    from localace.store import open_store
    from localace.train.examples import kept_dialogs

    if not data_path:
        store = existing_store(db_path, " (train on a database that holds verified dialogs, or pass --data)")
        return store, kept_dialogs(store, run_id)
    dialogs, malformed = read_dialogs(data_path, data_format)
    if malformed:
        err.print(f"{data_path}: {len(malformed)} rows could not be read (first, line {malformed[0][0]}: "
                  f"{malformed[0][1][:120]})", markup=False)
    return open_store(db_path), dialogs


def _run_steps(trainer) -> None:
    """Train with a progress bar showing the loss (mean of the last 10 steps) and this session's tokens/s."""
    tokens, seconds = 0, 0.0
    recent: list[float] = []
    with progress() as bar:
        task = bar.add_task("train", total=trainer.total_steps, completed=trainer.step, info="")
        for event in trainer.steps():
            tokens += event.tokens
            seconds += event.seconds
            recent = (recent + [event.loss])[-10:]
            bar.update(task, completed=event.step,
                       info=f"epoch {event.epoch + 1} · loss {sum(recent) / len(recent):.3f} · "
                            f"{tokens / max(seconds, 1e-9):,.0f} tok/s")
