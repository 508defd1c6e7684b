"""Shared CLI plumbing: common options, one-line errors with exit code 2, consoles."""

from __future__ import annotations

import functools
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console
from rich.markup import escape

from localace.errors import GenerationError, LocalaceError, UserError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

DEFAULT_DB = "localace.db"


def db_option(f: Callable) -> Callable:
    return click.option("--db", "db_path", envvar="LOCALACE_DB", default=DEFAULT_DB, show_default=True,
                        help="SQLite database (env LOCALACE_DB).")(f)


def model_option(f: Callable) -> Callable:
    """--model and --n-gpu-layers: every command that loads a model takes both."""
    f = click.option("--n-gpu-layers", "n_gpu_layers", type=click.IntRange(-1, None), envvar="LOCALACE_N_GPU_LAYERS",
                     default=0, show_default=True,
                     help="Model layers to offload to the GPU, -1 for all (env LOCALACE_N_GPU_LAYERS); "
                          "needs a llama-cpp-python built with GPU support.")(f)
    return click.option("--model", "model", envvar="LOCALACE_MODEL", default=None,
                        help="Catalogue name or path to a .gguf (env LOCALACE_MODEL); default: the embedded model.")(f)


def lora_option(f: Callable) -> Callable:
    return click.option("--lora", "lora", default=None, metavar="ADAPTER.gguf",
                        help="llama.cpp LoRA adapter applied to --model (e.g. written by `localace train`).")(f)


def parallel_options(f: Callable) -> Callable:
    """--parallel N and --deterministic, for commands that run many model calls; resolve with resolve_parallel."""
    f = click.option("--deterministic", is_flag=True,
                     help="One model call at a time on the single-request path: a killed and resumed run writes "
                          "byte-for-byte what an uninterrupted one writes (same as --parallel 1).")(f)
    return click.option("--parallel", "parallel", type=click.IntRange(1, 256), envvar="LOCALACE_PARALLEL", default=None,
                        help="Work items in flight, their model calls decoded together in one batch (env "
                             "LOCALACE_PARALLEL); default: 8 on CPU, 16 with --n-gpu-layers. 1 = --deterministic.")(f)


def resolve_parallel(parallel: int | None, deterministic: bool, n_gpu_layers: int = 0) -> int:
    """The number of work items in flight; 1 is the deterministic one-at-a-time path."""
    from localace.backends import default_parallel

    if deterministic:
        if parallel not in (None, 1):
            raise UserError(f"--deterministic runs one model call at a time; drop --parallel {parallel}")
        return 1
    return parallel if parallel is not None else default_parallel(n_gpu_layers)


def seed_option(f: Callable) -> Callable:
    return click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")(f)


def ctx_option(f: Callable) -> Callable:
    return click.option("--ctx", "n_ctx", type=click.IntRange(256, 131072), default=4096, show_default=True,
                        help="llama.cpp context length.")(f)


def fail(message: str, code: int = 2) -> None:
    # escape: a message may hold brackets (`localace[ray]`, a JSON path) that rich would read as markup and drop
    err.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    sys.exit(code)


def handle_errors(f: Callable) -> Callable:
    """Turn our typed errors into one line on stderr: exit 2 for user errors, 1 for generation."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except UserError as e:
            fail(str(e), 2)
        except GenerationError as e:
            fail(f"generation failed ({e.kind}): {e}", 1)
        except LocalaceError as e:  # e.g. a stage that stalled: a clear line, never a traceback
            fail(str(e), 1)
        except KeyboardInterrupt:
            err.print("Interrupted; everything committed so far is kept. Run the same command to resume.")
            sys.exit(130)

    return wrapper


def existing_store(db_path: str, hint: str = ""):
    """Open a database a read-only or follow-up command needs; never create an empty one by typo."""
    from localace.store import open_store

    _require_existing(db_path, hint)
    return open_store(db_path)


def _require_existing(db_path: str, hint: str) -> None:
    if not Path(db_path).exists():
        raise UserError(f"database not found: {db_path}{hint}")


def command_line() -> str:
    """The command as the user typed it, for sessions and leases."""
    return shlex.join(["localace", *sys.argv[1:]])


def start_session(store):
    return store.start_session(command_line())


def cached_model(store, session, model: str | None, *, n_ctx: int, lora: str | None = None, n_gpu_layers: int = 0,
                 parallel: int | None = None):
    """The backend a command's model calls go through: made from --model (and its options), cached in --db."""
    from localace.backends import make_backend
    from localace.store.cache import CachedBackend

    return CachedBackend(make_backend(model, n_ctx=n_ctx, file_hash=store.file_hash, lora=lora,
                                      n_gpu_layers=n_gpu_layers, parallel=parallel), store, session)


def resolve_models(*models: str | None) -> None:
    """Refuse a --model (or --judge-model) that names no usable GGUF before anything is written: a command
    resolves its models first, then opens (creates) its database and records a session."""
    from localace.backends import FAKE_MODEL
    from localace.model_catalogue import resolve_model

    for model in models:
        if model != FAKE_MODEL:
            resolve_model(model)


def exclusive_store(db_path: str, *, must_exist: str | None = None):
    """Open the database of a command that writes work into it and hold its lease until the command ends:
    a second writer is refused at once with one line naming this process (pid, host, since when).
    must_exist: the database must already exist (the text is the hint of the not-found error)."""
    from localace.store import open_store
    from localace.store.db import check_db_path
    from localace.store.lock import acquire

    check_db_path(db_path)
    if must_exist is not None:
        _require_existing(db_path, must_exist)
    # The lease comes before the database is opened: opening creates and migrates it, and two processes
    # migrating one new file at once made the second fail with "database is locked" instead of naming the holder.
    lease = acquire(db_path, command=command_line())
    try:
        store = open_store(db_path)
    except BaseException:
        lease.release()
        raise
    click.get_current_context().call_on_close(lease.release)
    return store


def read_json_file(path: str, what: str) -> Any:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} file not found: {path}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{what} file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{what} file {path} is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def model_size(backend: object) -> int | None:
    """The loaded GGUF's size in bytes (None for a backend without a file, like the fake one)."""
    path = getattr(getattr(backend, "model", None), "path", None)
    return path.stat().st_size if path is not None else None
