"""Flows: a typed YAML config, an ordered list of named steps, and a resumable runner.

Import the pieces from their modules: :mod:`codesign.flow.config` (``FlowConfig``,
``load_flow_config``), :mod:`codesign.flow.runner` (``run_flow``, ``Step``, ``FlowState``)
and :mod:`codesign.flow.steps` (the step functions and the ``STEPS`` registry).
"""
