"""The ``codesign`` command: a thin click layer over library functions.

Subcommands are imported lazily, so ``codesign --help`` and ``codesign doctor`` do not pay
for importing torch and FINN.

:func:`run_cli` is the one place that turns expected failures into one line on stderr and
an exit code; ``-v`` (before or after the subcommand) adds the traceback. Exit codes:

====  =====================================================================================
0     success
1     user error: bad config or option value, bad or corrupt input file, an output path
      that cannot be written or would lose files, a missing tool or dataset, an infeasible
      target, or an OS error on a path the user gave
2     command-line usage error (unknown option, missing argument, value out of range)
3     ``codesign build`` wrote the build folder but Vivado is not installed here
4     an external tool (Verilator, Yosys, Vivado) ran and failed, or the RTL simulation
      disagreed with FINN or hung
70    internal error (a codesign bug): the traceback is printed
130   interrupted (Ctrl-C); 143 terminated (SIGTERM). Both clean up like a failure does.
====  =====================================================================================

Third-party warnings and log records (FINN, qonnx, Brevitas, torch) go to the run's log
file, not the terminal; ``-v`` shows them all.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import math
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from codesign.errors import CodesignError, ToolFailedError
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
    "train": "codesign.cli.dqmq:train",
    "tiers": "codesign.cli.dqmq:tiers",
    "evaluate": "codesign.cli.dqmq:evaluate",
    "search": "codesign.cli.search:search",
    "sweep": "codesign.cli.sweep:sweep",
    "report": "codesign.cli.sweep:report",
    "results": "codesign.cli.results:results",
    "calibrate": "codesign.cli.calibrate:calibrate_cmd",
}

EXIT_USER = 1
EXIT_USAGE = 2
EXIT_TOOL = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

err_console = Console(stderr=True)


class Terminated(BaseException):  # noqa: N818 - named after the signal, like KeyboardInterrupt
    """Raised in the main thread by SIGTERM, so cleanup runs as for Ctrl-C."""


class PositiveFloat(click.FloatRange):
    """A finite float > 0 (--fps, --clock-ns, --timeout): nan, inf, 0 and -1 are usage errors."""

    name = "positive number"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(  # noqa: D102
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class _State:
    verbose = False


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:  # noqa: FBT001
    if value:
        _State.verbose = True
        logging.getLogger().setLevel(logging.DEBUG)


def _verbose_option() -> click.Option:
    return click.Option(
        ["-v", "--verbose"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_verbose,
        help="Debug logging, third-party warnings, and tracebacks of errors.",
    )


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
        cmd = getattr(importlib.import_module(module), attr)
        if not any(p.name == "verbose" for p in cmd.params):  # -v after the subcommand too
            cmd.params.append(_verbose_option())
        return cmd


def _importable(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


class _ConsoleFilter(logging.Filter):
    """The terminal shows codesign's own records and errors; the rest goes to log files."""

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            _State.verbose
            or record.name == "codesign"
            or record.name.startswith("codesign.")
            or record.levelno >= logging.ERROR
        )


@click.group(cls=LazyGroup)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Debug logging, third-party warnings, and tracebacks of errors.",
)
@click.version_option(package_name="codesign")
def cli(verbose: bool) -> None:
    """FPGA co-design of quantized neural networks (Brevitas -> QONNX -> FINN -> RTL)."""
    _State.verbose = verbose  # a -v after the subcommand sets it again, later
    use_settings(Settings.from_env())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_codesign_console", False)]:
        root.removeHandler(old)  # a second invocation in one process (tests)
    handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=True)
    handler.addFilter(_ConsoleFilter())
    handler._codesign_console = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if _State.verbose else logging.INFO)
    logging.captureWarnings(True)  # warnings.warn -> "py.warnings" -> the run's log file
    for noisy in ("matplotlib", "PIL", "onnx", "onnxscript", "onnx_ir", "mip"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_cli(args: list[str] | None = None) -> int:
    """Run the ``codesign`` command line; return its exit code (see the module docstring).

    Every expected failure becomes one line on stderr: a :class:`CodesignError`, an
    ``OSError`` on a path, a usage error, Ctrl-C or SIGTERM. Other exceptions are internal
    errors and keep their traceback.
    """
    _State.verbose = False
    with _sigterm_raises():
        try:
            code = cli.main(args=args, prog_name="codesign", standalone_mode=False)
        except click.exceptions.Exit as err:
            return err.exit_code
        except SystemExit as err:  # a command's own sys.exit(n): build's 3, doctor's 1
            return err.code if isinstance(err.code, int) else EXIT_USER
        except click.exceptions.NoArgsIsHelpError as err:  # plain `codesign`: its help
            click.echo(err.ctx.get_help() if err.ctx is not None else err.format_message())
            return 0
        except click.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else "codesign"
            return _fail(f"{err.format_message()} (see `{where} --help`)", EXIT_USAGE, err)
        except click.ClickException as err:
            return _fail(err.format_message(), err.exit_code, err)
        except (click.exceptions.Abort, KeyboardInterrupt) as err:
            return _fail("interrupted", EXIT_INTERRUPTED, err)
        except Terminated as err:
            return _fail("terminated", EXIT_TERMINATED, err)
        except CodesignError as err:
            return _fail(str(err), _code_of(err), err)
        except OSError as err:
            return _fail(_os_message(err), EXIT_USER, err)
        except Exception:  # noqa: BLE001 - the last resort: a bug keeps its traceback
            traceback.print_exc()
            err_console.print("[bold red]internal error[/] (a codesign bug; please report it)")
            return EXIT_INTERNAL
    return code if isinstance(code, int) else 0


def _code_of(err: CodesignError) -> int:
    tool_errors: tuple[type[BaseException], ...] = (ToolFailedError,)
    sim = sys.modules.get("codesign.sim.simulation")  # not loaded: none of its errors raised
    if sim is not None:
        tool_errors += (sim.SimMismatchError, sim.SimHangError)
    return EXIT_TOOL if isinstance(err, tool_errors) else EXIT_USER


def _os_message(err: OSError) -> str:
    what = err.strerror or type(err).__name__
    if err.filename is not None and err.filename2 is not None:
        return f"{what}: {err.filename} -> {err.filename2}"
    if err.filename is not None:
        return f"{what}: {err.filename}"
    return str(err) or what


def _fail(message: str, code: int, err: BaseException) -> int:
    if _State.verbose:
        traceback.print_exception(err)
    line = Text.assemble(("error:", "bold red"), " ", message.strip())
    err_console.print(line, highlight=False, soft_wrap=True)
    return code


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the CLI runs, SIGTERM raises :class:`Terminated` (the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def stdout_to_log() -> Iterator[None]:
    """Send what libraries print on stdout (torch.onnx's progress) to the debug log.

    Also quiets torch.onnx's "torchvision is not installed" warnings, so the terminal
    shows codesign's progress and tables only.
    """
    # torch's logging setup runs when torch is first imported and resets the levels of its
    # loggers: import it first, or a step that imports torch later undoes the ERROR below.
    import torch.onnx  # noqa: F401, PLC0415

    buf = io.StringIO()
    onnx_log = logging.getLogger("torch.onnx")
    old_level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        onnx_log.setLevel(old_level)
        if buf.getvalue().strip():
            logging.getLogger(__name__).debug("%s", buf.getvalue().rstrip())


def main() -> None:
    """Console-script entry point."""
    sys.exit(run_cli())


if __name__ == "__main__":
    main()
