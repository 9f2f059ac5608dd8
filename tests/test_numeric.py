"""The machine-independent numerics the trained models use (mailposture.numeric)."""

from __future__ import annotations

import math

import numpy as np

from mailposture.numeric import fsum, sigmoid


def test_sigmoid_matches_the_definition_to_the_last_bits() -> None:
    z = np.linspace(-40.0, 40.0, 40001)
    ours = sigmoid(z)
    ref = np.array([1.0 / (1.0 + math.exp(-v)) for v in z.tolist()])
    assert np.max(np.abs(ours - ref) / ref) < 4e-16
    assert sigmoid(np.array([0.0]))[0] == 0.5


def test_sigmoid_saturates_without_overflow() -> None:
    with np.errstate(all="raise"):  # no overflow, no invalid value
        out = sigmoid(np.array([-1e6, -800.0, 800.0, 1e6]))
    assert out[0] == out[1] == 0.0 or out[1] < 1e-300
    assert out[2] == out[3] == 1.0


def test_fsum_is_exact_whatever_the_order() -> None:
    a = np.array([1e16, 1.0, -1e16, 1.0] * 1000)
    assert fsum(a) == 2000.0 == fsum(a[::-1])
