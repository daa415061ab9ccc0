"""Evolutionary search under a hardware constraint, with every dependency injected.

The loop is once-for-all's / APQ's: a random feasible population; each generation keeps the
best ``parent_ratio`` as parents and refills the population with mutants (each entry redrawn
with probability ``mutate_prob``) and crossovers (each entry from one of two parents), every
child feasible. Unlike their ``while True`` samplers, every draw here is bounded: a batch of
children is drawn at most ``max_tries`` times, and a generation that cannot fill its
population keeps the parents it has.

Collaborators:

* ``score(vectors) -> (N,) float``: the accuracy predictor (higher is better);
* ``feasible(vectors) -> (N,) bool``: the cost constraint (:class:`CostChecker.feasible`);
* ``rng``: a ``numpy.random.Generator``, the only source of randomness.

Example::

    search = EvolutionSearch(space, score, checker.feasible, np.random.default_rng(0), cfg)
    result = search.run()
    space.decode(result.best_vector), result.best_score
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from codesign.errors import InfeasibleError
from codesign.search.space import SearchSpace

log = logging.getLogger(__name__)

__all__ = ["EvolutionConfig", "EvolutionResult", "EvolutionSearch", "sample_feasible"]

ScoreFn = Callable[[np.ndarray], np.ndarray]
FeasibleFn = Callable[[np.ndarray], np.ndarray]
ProgressFn = Callable[[int, int, float], None]


@dataclass(frozen=True)
class EvolutionConfig:
    """Sizes and rates of the evolution (APQ's code: population 100, 500 iterations).

    Attributes:
        population: Candidates per generation.
        iterations: Generations.
        mutate_prob: Probability that a mutant redraws each vector entry.
        parent_ratio: Fraction of the population kept as parents.
        mutation_ratio: Fraction of the children made by mutation (the rest by crossover).
        max_tries: Bound on the batch draws for one set of feasible candidates.
    """

    population: int = 100
    iterations: int = 100
    mutate_prob: float = 0.1
    parent_ratio: float = 0.25
    mutation_ratio: float = 0.5
    max_tries: int = 1000


@dataclass
class EvolutionResult:
    """What the search found.

    Attributes:
        best_vector: The best feasible candidate seen.
        best_score: Its predicted score.
        history: Best score after each generation.
        top: The final population's candidates, best first, ``(P, L)``.
        top_scores: Their scores.
        scored: Candidates scored by the predictor (with repeats).
        checked: Candidates checked against the constraint (with repeats).
        seconds: Wall time.
    """

    best_vector: np.ndarray
    best_score: float
    history: list[float] = field(default_factory=list)
    top: np.ndarray | None = None
    top_scores: np.ndarray | None = None
    scored: int = 0
    checked: int = 0
    seconds: float = 0.0


def sample_feasible(
    space: SearchSpace,
    feasible: FeasibleFn,
    rng: np.random.Generator,
    n: int,
    max_tries: int,
    propose: Callable[[int], np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Up to ``n`` feasible vectors, drawing batches of ``n`` at most ``max_tries`` times.

    Args:
        space: The space.
        feasible: The constraint.
        rng: Random source (used when ``propose`` is None).
        n: How many to return.
        max_tries: Bound on batch draws.
        propose: ``propose(k) -> (k, L)`` candidates; default uniform samples of ``space``.

    Returns:
        ``(vectors, checked)``: at most ``n`` feasible rows (fewer if the tries ran out), and
        how many candidates were checked.
    """
    propose = propose or (lambda k: space.sample_vectors(rng, k))
    found: list[np.ndarray] = []
    have, checked = 0, 0
    for _ in range(max_tries):
        batch = propose(n)
        ok = feasible(batch)
        checked += len(batch)
        if ok.any():
            found.append(batch[ok])
            have += int(ok.sum())
        if have >= n:
            break
    if not found:
        return np.empty((0, space.vector_length), dtype=np.int64), checked
    return np.concatenate(found)[:n], checked


class EvolutionSearch:
    """Evolution over choice vectors of a space; see the module docstring."""

    def __init__(
        self,
        space: SearchSpace,
        score: ScoreFn,
        feasible: FeasibleFn,
        rng: np.random.Generator,
        config: EvolutionConfig | None = None,
        frozen: np.ndarray | None = None,
    ) -> None:
        """Keep the collaborators (nothing is drawn until :meth:`run`).

        ``frozen`` (optional, length ``vector_length``) holds a choice index for every entry
        the search may not change and -1 for the free ones: a search over a sub-space, as the
        stages of a sequential baseline need.
        """
        self.space = space
        self.frozen = None if frozen is None else np.asarray(frozen, dtype=np.int64)
        self.score = score
        self.feasible = feasible
        self.rng = rng
        self.config = config or EvolutionConfig()
        self._card = space.cardinalities

    def mutate(self, parents: np.ndarray, k: int) -> np.ndarray:
        """``k`` mutants of random parents: each entry redrawn with ``mutate_prob``."""
        pick = parents[self.rng.integers(0, len(parents), size=k)]  # (k, L)
        fresh = self.sample(k)  # (k, L)
        redraw = self.rng.random(pick.shape) < self.config.mutate_prob
        return np.where(redraw, fresh, pick)

    def sample(self, k: int) -> np.ndarray:
        """``k`` uniform samples of the (possibly partly frozen) space, ``(k, L)``."""
        fresh = self.space.sample_vectors(self.rng, k)
        return fresh if self.frozen is None else np.where(self.frozen >= 0, self.frozen, fresh)

    def crossover(self, parents: np.ndarray, k: int) -> np.ndarray:
        """``k`` children, each entry taken from one of two random parents."""
        a = parents[self.rng.integers(0, len(parents), size=k)]
        b = parents[self.rng.integers(0, len(parents), size=k)]
        return np.where(self.rng.random(a.shape) < 0.5, a, b)

    def run(
        self, on_generation: ProgressFn | None = None, initial: np.ndarray | None = None
    ) -> EvolutionResult:
        """Evolve; return the best feasible candidate seen.

        ``initial`` (optional, ``(K, L)``): candidates known to matter (e.g. the point a
        previous stage guarantees feasible); the feasible ones join the first population.

        Raises:
            InfeasibleError: No feasible candidate within ``max_tries`` batches of random
                samples: the budget is too tight for the space.
        """
        cfg = self.config
        t0 = time.perf_counter()
        pop, checked = sample_feasible(
            self.space, self.feasible, self.rng, cfg.population, cfg.max_tries, self.sample
        )
        if initial is not None and len(initial):
            initial = np.atleast_2d(np.asarray(initial, dtype=np.int64))
            seeds = initial[self.feasible(initial)]
            checked += len(initial)
            pop = np.concatenate([seeds, pop])[: max(cfg.population, len(seeds))]
        if len(pop) == 0:
            raise InfeasibleError(
                f"no candidate of the search space meets the budget in {checked} random "
                "samples; raise the FPS budget's slack (lower --fps), the utilization or the "
                "LUT budget, or allow smaller/lower-precision layers"
            )
        scores = self.score(pop)
        scored = len(pop)
        n_parents = max(1, int(round(cfg.parent_ratio * cfg.population)))
        n_mutate = int(round(cfg.mutation_ratio * (cfg.population - n_parents)))
        history: list[float] = []
        for gen in range(cfg.iterations):
            order = np.argsort(-scores, kind="stable")
            parents, parent_scores = pop[order[:n_parents]], scores[order[:n_parents]]
            mutants, c1 = sample_feasible(
                self.space,
                self.feasible,
                self.rng,
                n_mutate,
                cfg.max_tries,
                propose=lambda k, p=parents: self.mutate(p, k),
            )
            children, c2 = sample_feasible(
                self.space,
                self.feasible,
                self.rng,
                cfg.population - n_parents - n_mutate,
                cfg.max_tries,
                propose=lambda k, p=parents: self.crossover(p, k),
            )
            new = np.concatenate([mutants, children])
            new_scores = self.score(new) if len(new) else np.empty(0)
            checked += c1 + c2
            scored += len(new)
            pop = np.concatenate([parents, new])
            scores = np.concatenate([parent_scores, new_scores])
            history.append(float(scores.max()))
            if on_generation is not None:
                on_generation(gen + 1, cfg.iterations, history[-1])
        order = np.argsort(-scores, kind="stable")
        return EvolutionResult(
            best_vector=pop[order[0]].copy(),
            best_score=float(scores[order[0]]),
            history=history,
            top=pop[order],
            top_scores=scores[order],
            scored=scored,
            checked=checked,
            seconds=time.perf_counter() - t0,
        )
