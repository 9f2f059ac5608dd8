"""Time-based one-time passwords (RFC 6238) for the owner's change of the sending-from-abroad setting.

HOTP (RFC 4226 §5.3): HMAC-SHA-1 of the 8-byte big-endian counter, dynamic truncation, 6 decimal digits.
TOTP (RFC 6238 §4): the counter is the number of 30-second steps since the Unix epoch. A code is accepted
for the current step and one step either side (§5.2, clock drift), and each step only once (the store keeps
the last step used).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote

STEP = 30
DIGITS = 6


def new_secret() -> str:
    """A random 160-bit secret (RFC 4226 §4 R6 recommends 160 bits), base32 without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    s = secret.strip().replace(" ", "").upper()
    return base64.b32decode(s + "=" * (-len(s) % 8))


def hotp(secret: str, counter: int, digits: int = DIGITS) -> str:
    mac = hmac.new(_key(secret), struct.pack(">Q", counter), "sha1").digest()
    off = mac[-1] & 0x0F  # RFC 4226 §5.3 dynamic truncation
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return str(code).zfill(digits)


def step_of(unix_time: float) -> int:
    return int(unix_time // STEP)


def totp(secret: str, unix_time: float, digits: int = DIGITS) -> str:
    return hotp(secret, step_of(unix_time), digits)


def match(secret: str, code: str, unix_time: float, window: int = 1) -> int | None:
    """The time step whose code ``code`` is (current ± ``window``), or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    now = step_of(unix_time)
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str = "mailposture") -> str:
    """The otpauth:// URI authenticator apps read (Google Authenticator "Key Uri Format")."""
    return (f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}"
            f"&algorithm=SHA1&digits={DIGITS}&period={STEP}")
