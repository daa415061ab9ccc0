"""Hold-out accuracy of the tier selection, in batches."""

from __future__ import annotations

import numpy as np
import torch

from codesign.flow.dqmq_select import _accuracy


def test_batched_accuracy_equals_one_batch():
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
    x = torch.rand(1001, 1, 4, 4, generator=gen)
    y = torch.randint(0, 3, (1001,), generator=gen)
    with torch.no_grad():
        whole = float((model(x).argmax(1) == y).float().mean())
    assert _accuracy(model, x, y, batch=100) == whole == _accuracy(model, x, y)
    assert 0.0 < whole < 1.0  # a real mix of right and wrong, not a constant
    assert _accuracy(model, x[:0], y[:0]) == 0.0
    assert isinstance(_accuracy(model, x, y), float) and np.isfinite(_accuracy(model, x, y))
