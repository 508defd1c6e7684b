"""The `localace` command line. Only this package prints."""

from __future__ import annotations

import click

from localace import __version__
from localace.cli.apis import apis_group
from localace.cli.dialogs import dialogs_group
from localace.cli.eval import eval_cmd
from localace.cli.ingest import import_cmd, verify_cmd
from localace.cli.merge import merge_cmd
from localace.cli.report import report_cmd
from localace.cli.run import export_cmd, run_cmd
from localace.cli.train import train_cmd
from localace.cli.core import generate_cmd, models_cmd, stats_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="localace")
def cli() -> None:
    """Synthesize tool-calling training data offline with local GGUF models (ToolACE method)."""


for command in (run_cmd, models_cmd, generate_cmd, stats_cmd, apis_group, dialogs_group, export_cmd, import_cmd, verify_cmd, report_cmd, eval_cmd,
                merge_cmd, train_cmd):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="localace")
