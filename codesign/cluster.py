"""A Dask distributed client for the commands that can spread work over machines.

``codesign sweep --scheduler`` (one task per point) and ``codesign evaluate --scheduler`` (one
task per seed) connect the same way and fail the same way: one line saying how to start a
scheduler and its workers.
"""

from __future__ import annotations

from typing import Any

from codesign.errors import CodesignError

__all__ = ["dask_client"]


def dask_client(scheduler: str, timeout: str = "30s") -> Any:
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (``tcp://HOST:PORT``).

    Raises:
        CodesignError: It cannot be reached within ``timeout``.
    """
    from distributed import Client  # noqa: PLC0415 (Dask only when asked)

    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise CodesignError(
            f"cannot reach the Dask scheduler at {scheduler} ({err}); start one with "
            f"`dask scheduler` and workers with `dask worker {scheduler} --nthreads 1`"
        ) from None
