"""The compiled candidate kernel (``_kernel.c``): LSH bucketing, pairs under the budget, Dice.

Built on first use with the system C compiler (``$CC``, else ``cc``/``gcc``/``clang``) into a
cache folder (``VINCULO_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/vinculo`` or
``~/.cache/vinculo``), keyed by a hash of the source and the flags, and loaded with ctypes:
nothing beyond Python and a C compiler. It is built twice from the one source: with 64-bit band
keys (every function) and with 32-bit keys (``-DVK_KEY32``), which ``lsh_candidates`` uses for
bands of k ≤ 32 bits (half the memory traffic of writing and reading the keys; the same pairs).
Its results equal the NumPy path's
(``blocking.lsh_candidate_pairs``, ``similarity.dice_of_pairs``), which stays as the fallback
and the reference the tests pin it against.

Settings (environment):

- ``VINCULO_KERNEL``: ``auto`` (default: the compiled kernel when it builds, else NumPy with
  one warning), ``numpy`` (always the NumPy path), ``c`` (the compiled kernel or an error);
- ``VINCULO_KERNEL_SIMD``: ``auto`` (default: the best the CPU has), ``avx512``, ``avx2``,
  ``popcnt`` or ``portable`` (a level the CPU lacks falls back to the best it has);
- ``VINCULO_KERNEL_THREADS``: threads (default: the CPUs this process may use).

>>> kernel_mode() in ("auto", "numpy", "c")
True
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from vinculo_common.errors import ConfigError, InputError

__all__ = [
    "SIMD_LEVELS",
    "KernelUnavailable",
    "dice_of_pairs",
    "kernel_mode",
    "library_for",
    "load",
    "lsh_candidates",
    "simd_level",
    "supported_simd",
    "threads",
]

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("_kernel.c")
FLAGS = ("-O3", "-shared", "-fPIC", "-pthread", "-std=c11", "-D_GNU_SOURCE")
SIMD_LEVELS = {"portable": 0, "popcnt": 1, "avx2": 2, "avx512": 3}
_NAMES = {v: k for k, v in SIMD_LEVELS.items()}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None  # 64-bit band keys
_lib32: ctypes.CDLL | None = None  # the same source with 32-bit band keys (k ≤ 32)
_error: str | None = None


class KernelUnavailable(ConfigError):
    """The compiled kernel could not be built or loaded (and ``VINCULO_KERNEL=c`` asks for it)."""


def kernel_mode() -> str:
    mode = os.environ.get("VINCULO_KERNEL", "auto").strip().lower() or "auto"
    if mode not in ("auto", "numpy", "c"):
        raise ConfigError(f"VINCULO_KERNEL debe ser auto, numpy o c, no {mode!r} "
                          "(VINCULO_KERNEL must be auto, numpy or c)")
    return mode


def simd_level() -> int:
    """The SIMD level asked for (``VINCULO_KERNEL_SIMD``); −1 = the best the CPU has."""
    name = os.environ.get("VINCULO_KERNEL_SIMD", "auto").strip().lower() or "auto"
    if name == "auto":
        return -1
    if name not in SIMD_LEVELS:
        raise ConfigError(f"VINCULO_KERNEL_SIMD debe ser auto o uno de {sorted(SIMD_LEVELS)} "
                          "(VINCULO_KERNEL_SIMD must be auto or one of these levels)")
    return SIMD_LEVELS[name]


def threads() -> int:
    value = os.environ.get("VINCULO_KERNEL_THREADS")
    if value:
        if not value.strip().isdigit():
            raise ConfigError("VINCULO_KERNEL_THREADS debe ser un entero positivo "
                              "(VINCULO_KERNEL_THREADS must be a positive integer)")
        return max(1, int(value))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _cache_dir() -> Path:
    if os.environ.get("VINCULO_KERNEL_CACHE"):
        return Path(os.environ["VINCULO_KERNEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vinculo"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _build(defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        raise KernelUnavailable("no se encontró un compilador de C (no C compiler found: cc, "
                                "gcc or clang; or set CC)")
    source = SOURCE.read_bytes()
    flags = (*FLAGS, *defines)
    tag = hashlib.sha256(source + " ".join((cc, *flags)).encode()).hexdigest()[:16]
    folder = _cache_dir()
    target = folder / f"vinculo_kernel-{tag}.so"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            out = Path(tmp) / target.name
            done = subprocess.run(
                [cc, *flags, "-o", str(out), str(SOURCE), "-lm"],
                capture_output=True, text=True, timeout=120, check=False,
            )
            if done.returncode != 0:
                raise KernelUnavailable(f"falló la compilación del núcleo ({cc} failed): "
                                        f"{done.stderr.strip()[-500:]}")
            os.replace(out, target)  # atomic: another process may build the same file
    lib = ctypes.CDLL(str(target))
    i64p = ctypes.POINTER(ctypes.c_int64)
    lib.vk_lsh_candidates.restype = ctypes.c_int64
    lib.vk_lsh_candidates.argtypes = [
        ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
        ctypes.c_int, ctypes.c_int64, ctypes.c_void_p, ctypes.c_double, ctypes.c_int,
        ctypes.c_int64, ctypes.c_int, ctypes.c_int, ctypes.POINTER(i64p),
        ctypes.POINTER(i64p), ctypes.c_void_p,
    ]
    lib.vk_dice_of_pairs.restype = None
    lib.vk_dice_of_pairs.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
    ]
    lib.vk_simd_supported.restype = ctypes.c_int
    lib.vk_key_bits.restype = ctypes.c_int
    lib.vk_free.argtypes = [ctypes.c_void_p]
    return lib


def load() -> ctypes.CDLL | None:
    """The compiled kernel, or None when ``VINCULO_KERNEL=numpy`` or (``auto``) it cannot be
    built; ``VINCULO_KERNEL=c`` raises ``KernelUnavailable`` instead."""
    global _lib, _lib32, _error
    mode = kernel_mode()
    if mode == "numpy":
        return None
    with _lock:
        if _lib is None and _error is None:
            try:
                lib = _build()
                _lib32 = _build(("-DVK_KEY32",))
                _lib = lib
            except (KernelUnavailable, OSError, subprocess.SubprocessError) as exc:
                _error = str(exc)
                log.warning("compiled linkage kernel unavailable, using NumPy: %s", _error)
    if _lib is None and mode == "c":
        raise KernelUnavailable(f"VINCULO_KERNEL=c pero el núcleo compilado no está disponible "
                                f"(the compiled kernel is unavailable): {_error}")
    return _lib


def supported_simd() -> str:
    """The best SIMD level of this CPU the kernel can use (``portable`` without the kernel)."""
    lib = load()
    return _NAMES[int(lib.vk_simd_supported())] if lib is not None else "portable"


def library_for(lib: ctypes.CDLL, key_bits: int) -> ctypes.CDLL:
    """The build of ``lib`` (from ``load``) whose band keys have ``key_bits`` (32 or 64) bits."""
    if key_bits not in (32, 64):
        raise InputError(f"key_bits must be 32 or 64 (got {key_bits})")
    if key_bits == 32 and lib is _lib and _lib32 is not None:
        lib = _lib32
    if int(lib.vk_key_bits()) != key_bits:
        raise KernelUnavailable(f"no build of the kernel with {key_bits}-bit band keys")
    return lib


def _ptr(arr: np.ndarray) -> int:
    return int(arr.ctypes.data)


def lsh_candidates(
    lib: ctypes.CDLL,
    clks: np.ndarray,
    positions: np.ndarray,
    *,
    max_bucket: int,
    involve: np.ndarray | None,
    min_dice: float,
    budget: int | None,
    group_bytes: int,
    n_threads: int | None = None,
    key_bits: int | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """``blocking.lsh_candidate_pairs``' pairs from the kernel: (left, right, stats) with
    stats ``compared``, ``skipped``, ``held`` (partner-list entries at the end) and ``simd``.
    ``n_threads``: the kernel's threads for this call (default ``threads()``). ``key_bits``:
    the width of the band keys, 32 or 64 (None: 32 when the bands' k ≤ 32; the same pairs)."""
    arr = np.ascontiguousarray(clks, dtype=np.uint8)
    pos = np.ascontiguousarray(positions, dtype=np.int32)
    if key_bits is None:
        key_bits = 32 if pos.shape[1] <= 32 else 64
    if pos.shape[1] > key_bits:
        raise InputError(f"key_bits must be 32 or 64 and hold the band's {pos.shape[1]} bits")
    lib = library_for(lib, key_bits)
    inv = None if involve is None else np.ascontiguousarray(involve, dtype=np.uint8)
    out_l = ctypes.POINTER(ctypes.c_int64)()
    out_r = ctypes.POINTER(ctypes.c_int64)()
    stats = np.zeros(4, dtype=np.int64)
    got = lib.vk_lsh_candidates(
        _ptr(arr), len(arr), arr.shape[1], _ptr(pos), pos.shape[0], pos.shape[1],
        int(max_bucket), None if inv is None else _ptr(inv), float(min_dice), int(budget or 0),
        int(group_bytes), n_threads or threads(), simd_level(), ctypes.byref(out_l),
        ctypes.byref(out_r),
        _ptr(stats),
    )
    if got < 0:
        if got == -1:
            raise MemoryError("linkage kernel: out of memory")
        raise InputError("linkage kernel: bad arguments")
    left_freed = False
    try:  # one side copied and freed before the other: the peak holds three arrays, not four
        left = np.ctypeslib.as_array(out_l, shape=(got,)).copy() if got else np.empty(0, np.int64)
        lib.vk_free(out_l)
        left_freed = True
        right = np.ctypeslib.as_array(out_r, shape=(got,)).copy() if got else np.empty(0, np.int64)
    finally:
        if not left_freed:
            lib.vk_free(out_l)
        lib.vk_free(out_r)
    info = {"compared": int(stats[0]), "skipped": int(stats[1]), "held": int(stats[2]),
            "simd": int(stats[3])}
    return left, right, info


def dice_of_pairs(
    lib: ctypes.CDLL, clks: np.ndarray, left: np.ndarray, right: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """``similarity.dice_of_pairs`` by the kernel (same float64 formula, same values)."""
    arr = np.ascontiguousarray(clks, dtype=np.uint8)
    lf = np.ascontiguousarray(left, dtype=np.int64)
    rt = np.ascontiguousarray(right, dtype=np.int64)
    cnt = np.ascontiguousarray(counts, dtype=np.int64)
    out = np.empty(len(lf), dtype=np.float64)
    if len(lf):
        n = len(arr)
        if int(lf.min()) < 0 or int(rt.min()) < 0 or int(lf.max()) >= n or int(rt.max()) >= n:
            raise IndexError("pair index out of range")
        lib.vk_dice_of_pairs(_ptr(arr), arr.shape[1], _ptr(lf), _ptr(rt), len(lf), _ptr(cnt),
                             _ptr(out), threads(), simd_level())
    return out
