"""APQ: joint search of architecture, channel pruning and quantization under a board budget.

Split the once-for-all way: :mod:`~codesign.search.space` (points and their encoding),
:mod:`~codesign.search.supernet` (shared weights, subnet extraction),
:mod:`~codesign.search.predictor` (accuracy predictors), :mod:`~codesign.search.efficiency`
(cost-model constraints), :mod:`~codesign.search.evolution` (the search), with every
dependency injected.
"""
