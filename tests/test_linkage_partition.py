"""The candidate stage in band slices (linkage.partition) equals one call over all bands: on
the compiled kernel and the NumPy path, with and without the budget and new records, run in
sequence and on Dask's threaded scheduler."""

from __future__ import annotations

from itertools import pairwise

import dask
import numpy as np
import pytest

from linkage_service.linkage.blocking import LshParams, lsh_candidate_pairs
from linkage_service.linkage.partition import band_slices, combine, slice_pairs
from vinculo_common.errors import InputError
from vinculo_lab.synthetic_clks import synthetic_registries


@pytest.fixture(scope="module")
def clks() -> np.ndarray:
    return synthetic_registries(records_per_source=1500, seed=17).clks


@pytest.mark.parametrize("kernel", ["c", "numpy"])
@pytest.mark.parametrize("budget", [None, 1, 4])
@pytest.mark.parametrize("new_share", [None, 0.1])
def test_slices_combine_to_the_single_call(
    clks: np.ndarray, kernel: str, budget: int | None, new_share: float | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VINCULO_KERNEL", kernel)
    params = LshParams(bands=60, bits_per_band=13)
    involve = None
    if new_share is not None:
        involve = np.random.default_rng(3).random(len(clks)) < new_share
    left, right, skipped = lsh_candidate_pairs(clks, params=params, involve=involve,
                                               min_dice=0.55, budget=budget)
    assert len(left) > 500  # enough pairs, and (with a budget) enough competition
    slices = band_slices(clks, params=params, slices=7)
    assert [s.stop - s.start for s in slices] == [9, 8, 9, 8, 9, 8, 9]
    parts = [slice_pairs(clks, s, params=params, min_dice=0.55, budget=budget, involve=involve)
             for s in slices]
    got = combine(clks, parts, budget=budget)
    assert got.left.tolist() == left.tolist() and got.right.tolist() == right.tolist()
    assert got.skipped == skipped
    if budget == 1:  # the budget binds: the slices alone hold pairs the whole call drops
        union = {(a, b) for p in parts for a, b in zip(p.left.tolist(), p.right.tolist(),
                                                        strict=True)}
        assert len(union) > len(left)


def test_designed_bands_on_dask_threads(clks: np.ndarray) -> None:
    params = LshParams()  # k and the bands chosen from the data, as a job does
    whole_l, whole_r, _ = lsh_candidate_pairs(clks, params=params, min_dice=0.6, budget=5)
    slices = band_slices(clks, params=params, slices=5)
    assert slices[0].start == 0 and all(a.stop == b.start for a, b in pairwise(slices))
    tasks = [dask.delayed(slice_pairs)(clks, s, params=params, min_dice=0.6, budget=5,
                                       threads=1) for s in slices]
    parts = list(dask.compute(*tasks, scheduler="threads", num_workers=2))
    got = combine(clks, parts, budget=5)
    assert np.array_equal(got.left, whole_l) and np.array_equal(got.right, whole_r)


def test_more_slices_than_bands_and_bad_counts(clks: np.ndarray) -> None:
    params = LshParams(bands=3, bits_per_band=12)
    assert band_slices(clks, params=params, slices=10) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    with pytest.raises(InputError):
        band_slices(clks, params=params, slices=0)
