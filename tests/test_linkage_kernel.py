"""The compiled candidate kernel equals the NumPy path, pair for pair, on random and adversarial
inputs, at every SIMD level; the NumPy fallback is chosen when the kernel cannot be built."""

from __future__ import annotations

import numpy as np
import pytest

from linkage_service.linkage import kernel
from linkage_service.linkage.blocking import LshParams, lsh_candidate_pairs
from linkage_service.linkage.link import LinkInputs, LinkParams, link
from linkage_service.linkage.similarity import dice_of_pairs
from vinculo_common.errors import InputError
from vinculo_lab.synthetic_clks import synthetic_registries

LEVELS = ["portable", "popcnt", "avx2", "avx512", "auto"]


def _both(monkeypatch: pytest.MonkeyPatch, level: str, fn):  # type: ignore[no-untyped-def]
    """fn() under the NumPy path, then under the compiled kernel at ``level``."""
    monkeypatch.setenv("VINCULO_KERNEL", "numpy")
    want = fn()
    monkeypatch.setenv("VINCULO_KERNEL", "c")
    monkeypatch.setenv("VINCULO_KERNEL_SIMD", level)
    got = fn()
    return want, got


def _pairs(clks: np.ndarray, params: LshParams, **kw):  # type: ignore[no-untyped-def]
    def run():  # type: ignore[no-untyped-def]
        stats: dict[str, int] = {}
        left, right, skipped = lsh_candidate_pairs(clks, params=params, stats=stats, **kw)
        return left.tolist(), right.tolist(), skipped, stats["compared"]

    return run


@pytest.fixture(autouse=True)
def _kernel_builds() -> None:
    # make test needs only Python and a C compiler: the kernel must build here.
    import os

    old = os.environ.get("VINCULO_KERNEL")
    os.environ["VINCULO_KERNEL"] = "c"
    try:
        assert kernel.load() is not None
    finally:
        if old is None:
            os.environ.pop("VINCULO_KERNEL")
        else:
            os.environ["VINCULO_KERNEL"] = old


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("budget", "min_dice", "bands", "bits"),
    [(None, None, 24, 12), (None, 0.6, 30, 10), (4, 0.55, 40, 11), (1, 0.7, 20, 9),
     (30, 0.5, 64, 12)],
)
def test_kernel_pairs_equal_numpy_on_synthetic_registries(
    monkeypatch: pytest.MonkeyPatch, level: str, budget: int | None, min_dice: float | None,
    bands: int, bits: int,
) -> None:
    data = synthetic_registries(records_per_source=400, seed=11)
    params = LshParams(bands=bands, bits_per_band=bits, key_budget_mb=1)  # many band groups
    want, got = _both(monkeypatch, level,
                      _pairs(data.clks, params, min_dice=min_dice, budget=budget))
    assert got == want
    assert len(want[0]) > 100


@pytest.mark.parametrize("level", ["portable", "auto"])
@pytest.mark.parametrize("budget", [None, 3])
def test_kernel_incremental_pairs_equal_numpy(
    monkeypatch: pytest.MonkeyPatch, level: str, budget: int | None
) -> None:
    data = synthetic_registries(records_per_source=300, seed=12)
    involve = np.zeros(len(data.clks), dtype=bool)
    involve[-60:] = True
    involve[::97] = True
    params = LshParams(bands=32, bits_per_band=10)
    want, got = _both(monkeypatch, level, _pairs(data.clks, params, min_dice=0.5,
                                                 budget=budget, involve=involve))
    assert got == want
    assert all(involve[a] or involve[b] for a, b in zip(*want[:2], strict=True))
    none = np.zeros(len(data.clks), dtype=bool)
    assert _both(monkeypatch, level, _pairs(data.clks, params, involve=none))[1][:2] == ([], [])


@pytest.mark.parametrize("group_bytes", [1, 1 << 30])
def test_kernel_incremental_across_band_groups(
    monkeypatch: pytest.MonkeyPatch, group_bytes: int
) -> None:
    # An incremental run (a few new records among thousands: the filter path) with one band
    # per group (group_bytes=1) or all bands in one gives the NumPy path's pairs.
    from linkage_service.linkage.blocking import band_positions

    data = synthetic_registries(records_per_source=1700, seed=13)
    n = len(data.clks)
    involve = np.zeros(n, dtype=bool)
    involve[-150:] = True
    involve[::211] = True
    assert involve.sum() * 8 < n
    params = LshParams(bands=12, bits_per_band=9, seed=3)
    monkeypatch.setenv("VINCULO_KERNEL", "numpy")
    want = lsh_candidate_pairs(data.clks, params=params, involve=involve, min_dice=0.5,
                               budget=3)
    monkeypatch.setenv("VINCULO_KERNEL", "c")
    lib = kernel.load()
    assert lib is not None
    positions = band_positions(data.clks.shape[1] * 8, bands=12, bits_per_band=9, seed=3)
    left, right, info = kernel.lsh_candidates(
        lib, data.clks, positions, max_bucket=params.max_bucket, involve=involve,
        min_dice=0.5, budget=3, group_bytes=group_bytes,
    )
    assert (left.tolist(), right.tolist(), info["skipped"]) == (
        want[0].tolist(), want[1].tolist(), want[2])
    assert len(left) > 100


@pytest.mark.parametrize("bits", [20, 32, 33])
@pytest.mark.parametrize("incremental", [False, True])
def test_32_and_64_bit_band_keys_give_the_numpy_pairs(
    monkeypatch: pytest.MonkeyPatch, bits: int, incremental: bool
) -> None:
    # The kernel built with 32-bit band keys (k <= 32) and with 64-bit keys give the NumPy
    # path's pairs, at k = 32 too (all-ones keys: a run of set bits) and past it (33: 64 only).
    from linkage_service.linkage.blocking import band_positions

    data = synthetic_registries(records_per_source=600, seed=17)
    clks = np.concatenate([data.clks, np.full((4, data.clks.shape[1]), 0xFF, np.uint8)])
    n = len(clks)
    involve = None
    if incremental:  # a few new records: the filter path
        involve = np.zeros(n, dtype=bool)
        involve[-40:] = True
    params = LshParams(bands=48, bits_per_band=bits, seed=9)
    monkeypatch.setenv("VINCULO_KERNEL", "numpy")
    want = lsh_candidate_pairs(clks, params=params, involve=involve, min_dice=0.0, budget=4)
    monkeypatch.setenv("VINCULO_KERNEL", "c")
    lib = kernel.load()
    assert lib is not None
    positions = band_positions(clks.shape[1] * 8, bands=48, bits_per_band=bits, seed=9)
    widths = [32, 64] if bits <= 32 else [64]
    for key_bits in widths:  # each width runs its own build
        assert kernel.library_for(lib, key_bits).vk_key_bits() == key_bits
        left, right, info = kernel.lsh_candidates(
            lib, clks, positions, max_bucket=params.max_bucket, involve=involve, min_dice=0.0,
            budget=4, group_bytes=1 << 16, key_bits=key_bits)
        assert (left.tolist(), right.tolist(), info["skipped"]) == (
            want[0].tolist(), want[1].tolist(), want[2]), key_bits
    assert len(want[0]) > 20
    if bits > 32:
        with pytest.raises(InputError, match="key_bits"):
            kernel.lsh_candidates(lib, clks, positions, max_bucket=2000, involve=None,
                                  min_dice=0.0, budget=4, group_bytes=1 << 16, key_bits=32)


def _adversarial() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, size=(1, 128), dtype=np.uint8)
    mixed = np.repeat(base, 40, axis=0)
    mixed[20:, :8] ^= 0xFF  # two blocks of identical encodings
    ties = np.repeat(base, 12, axis=0)
    ties[::2, 0] ^= 0x01  # every pair at one of two Dice values: ties at the budget
    return {
        "empty": np.zeros((0, 128), dtype=np.uint8),
        "one": base.copy(),
        "zeros": np.zeros((25, 128), dtype=np.uint8),
        "ones": np.full((25, 128), 0xFF, dtype=np.uint8),
        "identical": np.repeat(base, 30, axis=0),
        "mixed": mixed,
        "ties": ties,
        "narrow": rng.integers(0, 256, size=(200, 8), dtype=np.uint8),  # 64-bit CLKs
    }


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("case", list(_adversarial()))
@pytest.mark.parametrize(("budget", "min_dice", "max_bucket"),
                         [(None, None, 2000), (3, 0.5, 2000), (5, None, 16), (2, 0.0, 2)])
def test_kernel_pairs_equal_numpy_on_adversarial_inputs(
    monkeypatch: pytest.MonkeyPatch, level: str, case: str, budget: int | None,
    min_dice: float | None, max_bucket: int,
) -> None:
    clks = _adversarial()[case]
    params = LshParams(bands=6, bits_per_band=8, max_bucket=max_bucket)
    want, got = _both(monkeypatch, level, _pairs(clks, params, min_dice=min_dice,
                                                 budget=budget))
    assert got == want


def test_ties_at_the_budget_are_all_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VINCULO_KERNEL", "c")
    clks = np.repeat(np.full((1, 16), 0x5A, dtype=np.uint8), 10, axis=0)  # all Dice 1.0
    left, _, _ = lsh_candidate_pairs(clks, params=LshParams(bands=2, bits_per_band=8),
                                     min_dice=0.5, budget=2)
    assert len(left) == 45  # every record's 2nd best ties with all others


@pytest.mark.parametrize("level", LEVELS)
def test_kernel_dice_equals_numpy(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    rng = np.random.default_rng(9)
    clks = rng.integers(0, 256, size=(300, 128), dtype=np.uint8)
    clks[:5] = 0  # empty encodings: Dice 0
    clks[5:9] = 0xFF
    left = rng.integers(0, 300, 5000)
    right = rng.integers(0, 300, 5000)
    want, got = _both(monkeypatch, level, lambda: dice_of_pairs(clks, left, right))
    assert np.array_equal(want, got)  # bit for bit: the same float64 formula


def test_job_gives_the_same_persons_with_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    data = synthetic_registries(records_per_source=400, seed=8)
    inputs = LinkInputs(clks=data.clks, sources=data.sources, sex=data.sex,
                        birth_year_min=data.birth_year_min, birth_year_max=data.birth_year_max)

    def run():  # type: ignore[no-untyped-def]
        r = link(inputs, LinkParams())
        return r.labels.tolist(), r.counts["pairs_above_floor"], r.auto_links.left.tolist()

    want, got = _both(monkeypatch, "auto", run)
    assert got == want


def test_fallback_when_the_kernel_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel, "_lib", None)
    monkeypatch.setattr(kernel, "_error", None)
    monkeypatch.setattr(kernel, "_compiler", lambda: None)
    monkeypatch.setenv("VINCULO_KERNEL", "auto")
    assert kernel.load() is None  # NumPy path, one warning
    data = synthetic_registries(records_per_source=100, seed=2)
    left, _, _ = lsh_candidate_pairs(data.clks, params=LshParams(bands=8, bits_per_band=8))
    assert len(left) > 0
    monkeypatch.setenv("VINCULO_KERNEL", "c")
    with pytest.raises(kernel.KernelUnavailable, match="compilador de C"):
        kernel.load()


def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from vinculo_common.errors import ConfigError

    monkeypatch.setenv("VINCULO_KERNEL", "gpu")
    with pytest.raises(ConfigError, match="VINCULO_KERNEL debe"):
        kernel.kernel_mode()
    monkeypatch.setenv("VINCULO_KERNEL_SIMD", "sse9")
    with pytest.raises(ConfigError, match="VINCULO_KERNEL_SIMD debe"):
        kernel.simd_level()
    monkeypatch.setenv("VINCULO_KERNEL_THREADS", "dos")
    with pytest.raises(ConfigError, match="VINCULO_KERNEL_THREADS"):
        kernel.threads()


@pytest.mark.parametrize("case", ["ones", "identical", "mixed", "ties", "narrow", "zeros"])
@pytest.mark.parametrize(("bits", "max_bucket"), [(64, 2000), (8, 3)])
def test_kernel_incremental_equals_numpy_on_adversarial_inputs(
    monkeypatch: pytest.MonkeyPatch, case: str, bits: int, max_bucket: int
) -> None:
    # A few new records among many (the kernel's hash path), 64-bit keys (all-ones ones
    # included) and oversized buckets that hold a new record or not.
    clks = _adversarial()[case]
    clks = np.concatenate([clks, clks[:5], np.full((3, clks.shape[1]), 0xFF, np.uint8)])
    involve = np.zeros(len(clks), dtype=bool)
    involve[-2:] = True
    params = LshParams(bands=4, bits_per_band=min(bits, clks.shape[1] * 8),
                       max_bucket=max_bucket)
    want, got = _both(monkeypatch, "auto", _pairs(clks, params, min_dice=0.0, budget=2,
                                                  involve=involve))
    assert got == want
