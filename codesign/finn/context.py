"""The one place that points FINN at a build folder.

FINN's generated code goes under ``FINN_BUILD_DIR``; finn-plus reads it once into a
process-wide settings object (``finn.util.settings._SETTINGS``) and caches it. A compile
therefore sets the variable *and* drops that cache for its duration, and restores both
afterwards, so two compiles in one process never share a build folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_ENV = "FINN_BUILD_DIR"


@contextmanager
def finn_build_dir(path: Path) -> Iterator[Path]:
    """Point FINN's code generation at ``path`` (created if missing) for the ``with`` block.

    Args:
        path: The folder that receives FINN's ``code_gen_*`` folders (``RUN/finn_build``).

    Yields:
        The absolute folder.

    Example:
        >>> with finn_build_dir(tmp / "finn_build"):  # doctest: +SKIP
        ...     model = model.transform(PrepareIP(part, clk_ns))
    """
    import finn.util.settings as finn_settings  # heavy; only when a compile runs

    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    old_env = os.environ.get(_ENV)
    old_settings = finn_settings._SETTINGS  # noqa: SLF001 - finn-plus caches it here
    os.environ[_ENV] = str(path)
    finn_settings._SETTINGS = None  # noqa: SLF001 - rebuilt from FINN_BUILD_DIR on next use
    log.debug("FINN_BUILD_DIR=%s", path)
    try:
        yield path
    finally:
        if old_env is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = old_env
        finn_settings._SETTINGS = old_settings  # noqa: SLF001
