"""The quality-aware bit-width policy, its tiers and the host-side router.

* :mod:`codesign.policy.policy`: :class:`QualityPolicy` (per-layer linear map of the quality
  features + softmax) and the straight-through Gumbel-softmax sampler.
* :mod:`codesign.policy.tiers`: cluster a policy's decisions into K static bit configs and
  route inputs to them with a numpy router.

This package imports nothing at package level, so importing it stays free of torch.
"""
