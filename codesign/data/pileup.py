"""Pile-up: mu ~ Poisson(<mu>) soft-QCD events drawn from the pool and added cell by cell.

The calorimeter is linear, so overlaying at cell level equals overlaying particles. Every draw is
seeded by a tuple of integers (see `codesign.data.seeds`): fresh pile-up differs between epochs,
yet any epoch can be reproduced exactly.

The draw of one event is, by definition, that of `np.random.default_rng(entropy)`: n =
`rng.poisson(mu)`, then `rng.integers(0, pool_size, size=n, dtype=np.int32)`. `draw_many` computes
exactly that (SeedSequence, PCG64, numpy's Poisson and bounded-integer algorithms) in a numba
kernel, since constructing one numpy Generator per event costs more than the whole draw.
Both kernels release the GIL, so a loader thread can run them next to TensorFlow.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from codesign.data.detector import SparseCells

MU = 200.0

_U = np.uint64
_M32 = _U(0xFFFFFFFF)
_S32 = _U(32)
# numpy.random.SeedSequence (pool of 4 words of 32 bits)
_POOL = 4
_INIT_A, _MULT_A = _U(0x43B0D7E5), _U(0x931E8875)
_INIT_B, _MULT_B = _U(0x8B51F9DD), _U(0x58F38DED)
_MIX_L, _MIX_R = _U(0xCA01F9DD), _U(0x4973F715)
# PCG64's 128-bit LCG multiplier (high, low)
_PCG_MUL_HI, _PCG_MUL_LO = _U(2549297995355413924), _U(4865540595714422341)
_LOGGAM_A = np.array([8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
                      -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
                      6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
                      -1.39243221690590e+00])


# ---------------------------------------------------------------------------- SeedSequence


@numba.njit(cache=True, nogil=True)
def _hashmix(value: np.uint64, const: np.ndarray) -> np.uint64:
    """SeedSequence's hashmix; `const` (one uint64 word) is its running hash constant."""
    value = (value ^ const[0]) & _M32
    const[0] = (const[0] * _MULT_A) & _M32
    value = (value * const[0]) & _M32
    return value ^ (value >> _U(16))


@numba.njit(cache=True, nogil=True)
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:
    """SeedSequence's mix of two pool words."""
    r = (_MIX_L * x - _MIX_R * y) & _M32
    return r ^ (r >> _U(16))


@numba.njit(cache=True, nogil=True)
def _seed_words(entropy: np.ndarray) -> np.ndarray:
    """The 8 uint32 words (as uint64) of SeedSequence(list(entropy)).generate_state(4, np.uint64)."""
    words = np.empty(2 * len(entropy), np.uint64)
    n = 0
    for v in entropy:  # each integer as little-endian 32-bit words, at least one
        x = _U(v)
        words[n] = x & _M32
        n += 1
        x >>= _S32
        if x:
            words[n] = x
            n += 1
    pool = np.empty(_POOL, np.uint64)
    const = np.empty(1, np.uint64)
    const[0] = _INIT_A
    for i in range(_POOL):
        pool[i] = _hashmix(words[i] if i < n else _U(0), const)
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], _hashmix(pool[src], const))
    for src in range(_POOL, n):
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], _hashmix(words[src], const))
    out = np.empty(8, np.uint64)
    h = _INIT_B
    for i in range(8):
        v = (pool[i % _POOL] ^ h) & _M32
        h = (h * _MULT_B) & _M32
        v = (v * h) & _M32
        out[i] = v ^ (v >> _U(16))
    return out


# ---------------------------------------------------------------------------- PCG64 (state: hi, lo, inc_hi, inc_lo)


@numba.njit(cache=True, nogil=True)
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """High 64 bits of the 128-bit product a * b."""
    a0, a1, b0, b1 = a & _M32, a >> _S32, b & _M32, b >> _S32
    t = a1 * b0 + ((a0 * b0) >> _S32)
    w1 = (t & _M32) + a0 * b1
    return a1 * b1 + (t >> _S32) + (w1 >> _S32)


@numba.njit(cache=True, nogil=True)
def _step(s: np.ndarray) -> None:
    """state = state * multiplier + inc (mod 2^128)."""
    hi = _mulhi(s[1], _PCG_MUL_LO) + s[0] * _PCG_MUL_LO + s[1] * _PCG_MUL_HI
    lo = s[1] * _PCG_MUL_LO
    s[1] = lo + s[3]
    s[0] = hi + s[2] + (_U(1) if s[1] < lo else _U(0))


@numba.njit(cache=True, nogil=True)
def _pcg64_seed(words: np.ndarray, s: np.ndarray) -> None:
    """PCG64 seeded with generate_state(4, uint64): initstate = (w0, w1), initseq = (w2, w3)."""
    w = np.empty(4, np.uint64)
    for i in range(4):
        w[i] = words[2 * i] | (words[2 * i + 1] << _S32)
    s[0], s[1] = _U(0), _U(0)
    s[2], s[3] = (w[2] << _U(1)) | (w[3] >> _U(63)), (w[3] << _U(1)) | _U(1)
    _step(s)
    lo = s[1] + w[1]
    s[0] = s[0] + w[0] + (_U(1) if lo < s[1] else _U(0))
    s[1] = lo
    _step(s)


@numba.njit(cache=True, nogil=True)
def _next64(s: np.ndarray) -> np.uint64:
    """PCG64's next 64-bit output (XSL-RR of the stepped state)."""
    _step(s)
    x, rot = s[0] ^ s[1], s[0] >> _U(58)
    return (x >> rot) | (x << ((_U(64) - rot) & _U(63)))


@numba.njit(cache=True, nogil=True)
def _next_double(s: np.ndarray) -> float:
    """numpy's next_double: the top 53 bits as a float in [0, 1)."""
    return np.float64(_next64(s) >> _U(11)) * (1.0 / 9007199254740992.0)


# ---------------------------------------------------------------------------- numpy's distributions


@numba.njit(cache=True, nogil=True)
def _loggam(x: float) -> float:
    """numpy's random_loggam (log-gamma for the Poisson rejection test)."""
    if x == 1.0 or x == 2.0:
        return 0.0
    x0, n = x, 0
    if x <= 7.0:
        n = int(7 - x)
        x0 = x + n
    x2 = 1.0 / (x0 * x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * math.log(2 * math.pi) + (x0 - 0.5) * math.log(x0) - x0
    for _ in range(n):
        gl -= math.log(x0 - 1.0)
        x0 -= 1.0
    return gl


@numba.njit(cache=True, nogil=True)
def _poisson(s: np.ndarray, lam: float) -> int:
    """numpy's random_poisson: PTRS (Hoermann 1993) for lam >= 10, multiplication below."""
    if lam == 0:
        return 0
    if lam < 10:
        enlam, x, prod = math.exp(-lam), 0, 1.0
        while True:
            prod *= _next_double(s)
            if prod <= enlam:
                return x
            x += 1
    slam, loglam = math.sqrt(lam), math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = _next_double(s) - 0.5
        v = _next_double(s)
        us = 0.5 - abs(u)
        k = int(math.floor((2 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                <= -lam + k * loglam - _loggam(float(k + 1))):
            return k


@numba.njit(cache=True, nogil=True)
def _bounded_fill(s: np.ndarray, rng: np.uint64, out: np.ndarray) -> None:
    """numpy's random_bounded_uint32_fill (Lemire, values 0..rng) with PCG64's 32-bit halves."""
    if rng == 0:
        out[:] = 0
        return
    excl = rng + _U(1)
    threshold = (_M32 - rng) % excl
    spare, has_spare = _U(0), False
    for i in range(len(out)):
        while True:
            if has_spare:
                r, has_spare = spare, False
            else:
                full = _next64(s)
                r, spare, has_spare = full & _M32, full >> _S32, True
            m = r * excl
            if (m & _M32) >= threshold:
                break
        out[i] = np.int32(m >> _S32)


@numba.njit(cache=True, nogil=True)
def _draw_many(entropies: np.ndarray, mu: float, pool_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every event's count first (keeping its generator state), then its indices into one array."""
    n = len(entropies)
    states = np.empty((n, 4), np.uint64)
    offsets = np.zeros(n + 1, np.int64)
    for i in range(n):
        _pcg64_seed(_seed_words(entropies[i]), states[i])
        offsets[i + 1] = offsets[i] + _poisson(states[i], mu)
    indices = np.empty(offsets[n], np.int32)
    for i in range(n):
        _bounded_fill(states[i], _U(pool_size - 1), indices[offsets[i]:offsets[i + 1]])
    return offsets, indices


def draw_many(entropies: np.ndarray | list[list[int]], mu: float, pool_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pile-up of many events as CSR (offsets int64 (n+1,), pool indices int32).

    Row i of `entropies` (non-negative integers below 2^63, same length for every event) seeds
    event i; its draw equals `np.random.default_rng(list(row))` drawing n ~ Poisson(mu) pool
    indices uniformly with replacement.
    """
    table = np.asarray(entropies, dtype=np.int64)
    if table.ndim != 2 or (table.size and table.min() < 0):
        raise ValueError("entropies: expected one row of non-negative integers per event")
    if not 1 <= pool_size < 2 ** 31 or not 0 <= mu < 1e9:
        raise ValueError(f"pool_size {pool_size} or mu {mu}: out of range")
    return _draw_many(table, float(mu), int(pool_size))


# ---------------------------------------------------------------------------- overlay


@numba.njit(cache=True, nogil=True)
def _overlay(images: np.ndarray, pool_offsets: np.ndarray, pool_cell: np.ndarray, pool_et: np.ndarray,
             offsets: np.ndarray, indices: np.ndarray, out: np.ndarray) -> None:
    """out[i] = float32(images[i] + float64 sum of event i's pool cells, in draw and stored order)."""
    acc = np.empty(images.shape[1], np.float64)
    for i in range(len(images)):
        acc[:] = 0.0
        for k in range(offsets[i], offsets[i + 1]):
            p = indices[k]
            for j in range(pool_offsets[p], pool_offsets[p + 1]):
                acc[pool_cell[j]] += pool_et[j]
        for c in range(images.shape[1]):
            out[i, c] = np.float32(np.float64(images[i, c]) + acc[c])


def overlay(images: np.ndarray, pool: SparseCells, offsets: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """images (float32, N x cells...) plus, for event i, the pool events indices[offsets[i]:offsets[i+1]].

    Per event the pool cells are summed in float64 (draws in order, each pool event's cells in
    stored order), then added to the image and rounded once to float32: the result does not
    depend on batching.
    """
    n = len(images)
    flat = np.ascontiguousarray(images, dtype=np.float32).reshape(n, -1)
    offsets = np.asarray(offsets, np.int64)
    if len(offsets) != n + 1 or (n and (offsets[0] < 0 or offsets[-1] > len(indices)
                                        or (np.diff(offsets) < 0).any())):
        raise ValueError("overlay: offsets must be non-decreasing, one more than images, within indices")
    used = indices[offsets[0]:offsets[-1]] if n else indices[:0]
    if len(used) and (used.min() < 0 or used.max() >= pool.n_events):
        raise ValueError(f"overlay: pool index out of range 0..{pool.n_events - 1}")
    out = np.empty_like(flat)
    _overlay(flat, pool.offsets, pool.cell, pool.et, offsets, indices, out)
    return out.reshape(images.shape)
