"""The ``codesign`` command: a thin click layer over library functions.

Subcommands are imported lazily, so ``codesign --help`` and ``codesign doctor`` do not pay
for importing torch and FINN. A :class:`~codesign.errors.CodesignError` becomes one line on
stderr and exit code 1; anything else keeps its traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click
from rich.console import Console
from rich.logging import RichHandler

from codesign.errors import CodesignError
from codesign.settings import Settings, use_settings

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "doctor": "codesign.cli.doctor:doctor",
    "quality": "codesign.cli.quality:quality",
    "run": "codesign.cli.run:run",
    "compile": "codesign.cli.compile:compile_cmd",
    "simulate": "codesign.cli.simulate:simulate",
    "synth": "codesign.cli.synth:synth",
    "build": "codesign.cli.build:build",
    "sweep": "codesign.cli.sweep:sweep",
    "report": "codesign.cli.sweep:report",
    "results": "codesign.cli.results:results",
    "calibrate": "codesign.cli.calibrate:calibrate_cmd",
}

err_console = Console(stderr=True)


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of the commands whose module is installed."""
        return sorted(name for name, target in COMMANDS.items() if _importable(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command ``cmd_name``, or None if unknown."""
        target = COMMANDS.get(cmd_name)
        if target is None or not _importable(target):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


def _importable(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(package_name="codesign")
def cli(verbose: bool) -> None:
    """FPGA co-design of quantized neural networks (Brevitas -> QONNX -> FINN -> RTL)."""
    use_settings(Settings.from_env())
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=True)],
    )
    for noisy in ("matplotlib", "PIL", "brevitas", "onnx", "onnxscript", "onnx_ir", "torch", "mip"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> None:
    """Console-script entry point."""
    try:
        # standalone_mode=False returns the code a command passed to ctx.exit(n)
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except CodesignError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
