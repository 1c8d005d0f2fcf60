"""Differential-privacy mode: the noise has the discrete Laplace distribution it claims, is
deterministic under a seed, and the publication says it was added."""

from __future__ import annotations

import numpy as np
import pytest
from test_stats_synthetic import make_bank

from linkage_service.stats import build_tables
from linkage_service.stats.suppression import add_discrete_laplace, discrete_laplace
from vinculo_common.errors import InputError


@pytest.mark.parametrize("epsilon", [0.3, 1.0, 2.0])
def test_noise_mean_and_variance(epsilon: float) -> None:
    draws = discrete_laplace(epsilon=epsilon, size=200_000, rng=np.random.default_rng(42))
    alpha = np.exp(-epsilon)
    variance = 2 * alpha / (1 - alpha) ** 2
    standard_error = np.sqrt(variance / draws.size)
    assert abs(draws.mean()) < 5 * standard_error
    # The sample variance of n draws has a relative standard error near sqrt(2/n) (a bit more
    # for heavy tails); 3 % is several of those for 200 000 draws.
    assert draws.var() == pytest.approx(variance, rel=0.03)
    # Symmetric, integer, and P(0) = (1 - α) / (1 + α).
    assert draws.dtype == np.int64
    assert (draws == 0).mean() == pytest.approx((1 - alpha) / (1 + alpha), abs=0.005)
    assert (draws == 1).mean() == pytest.approx((draws == -1).mean(), abs=0.005)


def test_noise_is_deterministic_under_a_seed() -> None:
    first = discrete_laplace(epsilon=0.5, size=50, rng=np.random.default_rng(7))
    again = discrete_laplace(epsilon=0.5, size=50, rng=np.random.default_rng(7))
    other = discrete_laplace(epsilon=0.5, size=50, rng=np.random.default_rng(8))
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()
    noisy = add_discrete_laplace({"b": 5, "a": 0}, epsilon=0.5, rng=np.random.default_rng(1))
    assert min(noisy.values()) >= 0


def test_epsilon_must_be_positive() -> None:
    with pytest.raises(InputError):
        discrete_laplace(epsilon=0.0, size=1, rng=np.random.default_rng(0))


def test_publication_with_noise_says_so_and_repeats_under_a_seed() -> None:
    snapshot, persons = make_bank(200, seed=2)
    first = build_tables(snapshot, min_cell=10, dp_epsilon=0.5, rng=np.random.default_rng(3))
    again = build_tables(snapshot, min_cell=10, dp_epsilon=0.5, rng=np.random.default_rng(3))
    plain = build_tables(snapshot, min_cell=10)
    assert first == again
    assert first != plain
    for table in first.values():
        assert table["metadata"]["privacidad_diferencial"]["epsilon"] == 0.5
        assert "Laplace discreto" in table["metadata"]["privacidad_diferencial"]["mecanismo"]
    for table in plain.values():
        assert table["metadata"]["privacidad_diferencial"] is None
    total = first["personas_por_sexo"]["rows"][-1][-1]
    assert abs(total - len(persons)) < 40  # noise, not a different bank
    for table in first.values():
        if "personas" in table["columns"]:
            where = table["columns"].index("personas")
            assert all(r[where] is None or r[where] == 0 or r[where] >= 10 for r in table["rows"])
