"""The exception tree.

A :class:`CodesignError` is a *user* error: bad config, missing tool or dataset, an
infeasible constraint, a bad input file. The CLI prints its message on one line and exits
non-zero without a traceback. Anything else is an internal error and keeps its traceback.
"""


class CodesignError(Exception):
    """Base of all user-facing errors; ``str(err)`` is the whole message."""


class ConfigError(CodesignError):
    """A config file or value is malformed, unknown or out of range."""


class ToolNotFoundError(CodesignError):
    """An external tool (Verilator, Yosys, Vivado...) is missing or broken."""


class DatasetMissingError(CodesignError):
    """A dataset is not installed on this machine, or its files fail their checksum."""


class UnsupportedModelError(CodesignError):
    """A network contains layers that cannot become RTL dataflow nodes."""


class InfeasibleError(CodesignError):
    """A constraint (FPS, LUT budget) cannot be met on the chosen board."""


class ToolFailedError(CodesignError):
    """An external tool ran and failed; the message carries a log excerpt and the command."""


class OutputPathError(CodesignError):
    """An output path cannot be used: not writable, or holding files codesign did not write."""


class CorruptInputError(ConfigError):
    """An input file is empty, truncated, foreign or otherwise not what codesign reads."""


class StepTimeoutError(CodesignError):
    """A flow step ran longer than its time limit (a sweep's ``execution.timeouts``)."""
