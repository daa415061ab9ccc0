"""Flows: a typed YAML config, steps tied by the artifacts they read and write, a runner.

Import the pieces from their modules: :mod:`codesign.flow.core` (``Step``, ``FlowState``,
artifact ordering and digests; imports nothing else from ``flow/``),
:mod:`codesign.flow.config` (``FlowConfig``, ``load_flow_config``),
:mod:`codesign.flow.runner` (``run_flow``) and :mod:`codesign.flow.steps` (the step
functions and the ``STEPS`` registry, imported only by the CLI and tests).
"""
