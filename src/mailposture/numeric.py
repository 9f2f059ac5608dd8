"""Numerics that give the same bits on every machine, for models trained reproducibly (a committed model file is
rebuilt byte for byte by a test).

numpy's transcendental functions and reductions may take a different SIMD path on another CPU (AVX-512 or not)
and differ in the last bit; over hundreds of training rounds such bits change a split or a rounded weight. What is
here uses only correctly rounded operations (+ − × ÷, rint, ldexp) or exact sums.
"""

from __future__ import annotations

import math

import numpy as np

_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10   # ln 2 split (Cody-Waite)
_EXP_TERMS = [1.0 / math.factorial(k) for k in range(14)]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` from correctly rounded operations only (+ − × ÷, rint, ldexp), so that training
    gives the same bits on every machine: numpy's own ``exp`` takes a different SIMD path on a CPU with AVX-512
    and differs in the last bit, which changed the trained trees from one machine to another."""
    x = np.clip(-z, -700.0, 700.0)
    k = np.rint(x / math.log(2.0))
    r = (x - k * _LN2_HI) - k * _LN2_LO              # |r| <= ln 2 / 2
    e = np.full_like(r, _EXP_TERMS[-1])
    for c in reversed(_EXP_TERMS[:-1]):                # Taylor series to r^13: error < 1e-16 on |r| <= 0.35
        e = e * r + c
    return 1.0 / (1.0 + np.ldexp(e, k.astype(np.int64)))


def fsum(a: np.ndarray) -> float:
    """The exact (correctly rounded) sum of an array, independent of order and SIMD width."""
    return math.fsum(a.tolist())
