"""Predictor features and fitting, the cost constraint, and the bounded evolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cost_double import ToyCostModel, toy_specs

from codesign.boards import load_board
from codesign.cost.protocol import Impl
from codesign.errors import InfeasibleError
from codesign.search.efficiency import Budget, CostChecker, canonical_vectors, spec_pricer
from codesign.search.evolution import EvolutionConfig, EvolutionSearch, sample_feasible
from codesign.search.predictor import (
    AccuracyPredictor,
    encode_features,
    fit_predictor,
    score_predictor,
    transfer,
)
from codesign.search.space import SearchSpace, StageChoices

SPACE = SearchSpace(
    stages=(
        StageChoices(depths=(1, 2), widths=(4, 8, 16), kernels=(3, 5)),
        StageChoices(depths=(1, 2), widths=(8, 16, 32), kernels=(3,)),
    ),
    weight_bits=(2, 4, 8),
    act_bits=(2, 4, 8),
    impls=(Impl.DSP, Impl.LUT),
)


def _toy_accuracy(vectors: np.ndarray) -> np.ndarray:
    """A made-up accuracy: more active channels and more bits help, with diminishing returns."""
    arch = [SPACE.decode(v) for v in vectors]
    return np.array(
        [
            0.5
            + 0.02 * sum(np.log2(a.widths[k]) for k in SPACE.active_slots(a))
            + 0.01 * sum(np.log2(a.weight_bits[k] * a.act_bits[k]) for k in SPACE.active_slots(a))
            for a in arch
        ]
    )


def _checker(fps: float, utilization: float = 0.05) -> CostChecker:
    budget = Budget.for_board(load_board("pynq-z2"), fps=fps, utilization=utilization)
    return CostChecker(SPACE, spec_pricer(ToyCostModel(), toy_specs), budget)


def test_features_zero_inactive_layers_and_fp32_bits() -> None:
    vecs = SPACE.sample_vectors(np.random.default_rng(0), 50)
    fq = encode_features(SPACE, vecs, quantized=True)
    f32 = encode_features(SPACE, vecs, quantized=False)
    n_active = SPACE.active_mask(vecs).sum(1) - 1  # conv layers
    # depth one-hot per stage + (width, kernel, wbits, abits) per active conv + fc wbits
    np.testing.assert_array_equal(fq.sum(1), len(SPACE.stages) + 4 * n_active + 1)
    np.testing.assert_array_equal(f32.sum(1), len(SPACE.stages) + 2 * n_active)
    # The MVU implementation computes the same integers: it is not a feature.
    flipped = vecs.copy()
    flipped[:, -(SPACE.n_slots + 1) :] = 1 - flipped[:, -(SPACE.n_slots + 1) :]
    assert SPACE.impls == (Impl.DSP, Impl.LUT)
    np.testing.assert_array_equal(encode_features(SPACE, flipped, quantized=True), fq)
    # Archs differing only in inactive slots have equal features.
    canon = canonical_vectors(SPACE, vecs)
    np.testing.assert_array_equal(encode_features(SPACE, canon, quantized=True), fq)


def test_predictor_ranks_held_out_samples_and_transfer_copies() -> None:
    rng = np.random.default_rng(1)
    train, held = SPACE.sample_vectors(rng, 300), SPACE.sample_vectors(rng, 100)
    torch.manual_seed(0)
    model = AccuracyPredictor(encode_features(SPACE, train[:1], quantized=True).shape[1], 64)
    fit_predictor(
        model,
        encode_features(SPACE, train, quantized=True),
        _toy_accuracy(train),
        seed=0,
        epochs=60,
    )
    score = score_predictor(
        model, encode_features(SPACE, held, quantized=True), _toy_accuracy(held)
    )
    assert score.kendall_tau > 0.7 and score.rmse < 0.03, score
    copy = transfer(model)
    assert copy is not model
    x = torch.from_numpy(encode_features(SPACE, held, quantized=True))
    torch.testing.assert_close(copy(x), model(x))


def test_cost_checker_prices_each_network_once() -> None:
    checker = _checker(fps=20000)
    vecs = SPACE.sample_vectors(np.random.default_rng(2), 40)
    first = checker.feasible(vecs)
    priced = checker.priced
    again = checker.feasible(np.concatenate([vecs, canonical_vectors(SPACE, vecs)]))
    assert checker.priced == priced  # all cache hits
    np.testing.assert_array_equal(again, np.concatenate([first, first]))
    assert 0 < first.sum() < len(first)  # the budget binds


def test_evolution_is_bounded_feasible_reproducible_and_beats_random() -> None:
    checker = _checker(fps=20000)
    cfg = EvolutionConfig(population=24, iterations=15, max_tries=50)
    runs = [
        EvolutionSearch(SPACE, _toy_accuracy, checker.feasible, np.random.default_rng(3), cfg).run()
        for _ in range(2)
    ]
    best = runs[0]
    np.testing.assert_array_equal(best.best_vector, runs[1].best_vector)
    assert checker.feasible(best.best_vector[None])[0]
    assert all(b >= a for a, b in zip(best.history, best.history[1:], strict=False))
    rand, _ = sample_feasible(
        SPACE, checker.feasible, np.random.default_rng(4), best.scored, max_tries=50
    )
    assert best.best_score >= _toy_accuracy(rand).max() - 1e-9


def test_an_impossible_budget_is_one_clear_error() -> None:
    checker = _checker(fps=1e9)
    search = EvolutionSearch(
        SPACE,
        _toy_accuracy,
        checker.feasible,
        np.random.default_rng(0),
        EvolutionConfig(population=8, iterations=2, max_tries=5),
    )
    with pytest.raises(InfeasibleError, match="no candidate of the search space meets the budget"):
        search.run()


def test_baselines_return_feasible_points_of_their_own_kind() -> None:
    from codesign.search.baselines import (
        joint_search,
        random_search,
        sequential_search,
        uniform_search,
    )

    checker = _checker(fps=20000)
    cfg = EvolutionConfig(population=16, iterations=6, max_tries=50)
    joint = joint_search(SPACE, _toy_accuracy, checker.feasible, np.random.default_rng(0), cfg)
    seq = sequential_search(
        SPACE, _toy_accuracy, _toy_accuracy, checker.feasible, np.random.default_rng(0), cfg
    )
    rand = random_search(
        SPACE, _toy_accuracy, checker.feasible, np.random.default_rng(0), joint.scored, 50
    )
    uni = uniform_search(
        SPACE, _toy_accuracy, checker.feasible, np.random.default_rng(0), cfg, bits=4
    )
    for outcome in (joint, seq, rand, uni):
        assert checker.feasible(outcome.vector[None])[0], outcome.method
    arch = SPACE.decode(uni.vector)
    assert set(arch.weight_bits) == {4} and set(arch.act_bits) == {4}
    assert seq.scored <= joint.scored + 3 * cfg.population  # three initial populations


def test_the_cached_family_pricer_equals_the_stitched_price() -> None:
    from codesign.cost.calibration import load_cost_model
    from codesign.search.run import family_pricer, network_spec_fn

    model = load_cost_model("xc7")
    budget = Budget.for_board(load_board("pynq-z2"), fps=5000, utilization=0.1)
    space = SearchSpace.default()
    vecs = space.sample_vectors(np.random.default_rng(5), 30)
    fast = CostChecker(space, family_pricer(model), budget)
    slow = CostChecker(space, spec_pricer(model, network_spec_fn), budget)
    for a, b in zip(fast.costs(vecs), slow.costs(vecs), strict=True):
        assert a.cycles == b.cycles
        assert a.resources.lut == pytest.approx(b.resources.lut, rel=1e-9)
        assert a.resources.dsp == pytest.approx(b.resources.dsp, rel=1e-9)
    np.testing.assert_array_equal(fast.feasible(vecs), slow.feasible(vecs))
    assert 0 < fast.feasible(vecs).sum() < len(vecs)
