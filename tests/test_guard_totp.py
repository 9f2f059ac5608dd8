"""RFC 6238 TOTP: the RFC's own test vectors (Appendix B, SHA-1) and the code window."""

from __future__ import annotations

import base64

import pytest

from mailposture.guard import totp

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890"; 8-digit codes.
SEED = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize("t, code", [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                                     (1234567890, "89005924"), (2000000000, "69279037"),
                                     (20000000000, "65353130")])
def test_rfc6238_vectors(t: int, code: str) -> None:
    assert totp.totp(SEED, t, digits=8) == code


def test_rfc4226_hotp_vectors() -> None:
    # RFC 4226 Appendix D, same secret, 6 digits
    want = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [totp.hotp(SEED, i) for i in range(10)] == want


def test_match_window_and_bad_codes() -> None:
    s = totp.new_secret()
    t = 1_800_000_000
    assert totp.match(s, totp.totp(s, t), t) == totp.step_of(t)
    assert totp.match(s, totp.totp(s, t - 30), t) == totp.step_of(t) - 1
    assert totp.match(s, totp.totp(s, t - 90), t) is None
    for bad in ("", "12345", "1234567", "abcdef", "１２３４５６"):
        assert totp.match(s, bad, t) is None
    assert "secret=" + s in totp.provisioning_uri(s, "alice@example.jp")
