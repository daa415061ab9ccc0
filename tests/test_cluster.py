"""An unreachable Dask scheduler is one line that says how to start one."""

from __future__ import annotations

import pytest

from codesign.cluster import dask_client
from codesign.errors import CodesignError


def test_an_unreachable_scheduler_is_one_line():
    pytest.importorskip("distributed")
    with pytest.raises(CodesignError) as err:
        dask_client("tcp://127.0.0.1:9", timeout="1s")  # port 9 (discard): nothing listens
    msg = str(err.value)
    assert "\n" not in msg and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in msg
    assert "dask worker tcp://127.0.0.1:9 --nthreads 1" in msg
