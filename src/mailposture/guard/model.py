"""The guard's records (user state, audit entry) and the user-name key: plain data, no I/O.

Shared by the decision (decide.py), the store (store.py), the in-memory mirror and the web pages, so that the
pure decision never depends on the database layer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class UserState(StrEnum):
    RESTRICTED = "restricted"
    ABROAD_UNTIL = "abroad_until"
    ABROAD_ALWAYS = "abroad_always"
    LOCKED = "locked"


@dataclass(frozen=True)
class UserRecord:
    username: str
    state: UserState
    abroad_until: datetime | None = None  # UTC aware
    updated_at: datetime | None = None
    updated_by: str | None = None
    note: str | None = None

    def effective_state(self, now: datetime) -> UserState:
        """The state in force at ``now``: an ``abroad_until`` period that has ended means RESTRICTED."""
        if self.state is UserState.ABROAD_UNTIL and (self.abroad_until is None or self.abroad_until <= now):
            return UserState.RESTRICTED
        return self.state


@dataclass(frozen=True)
class AuditEntry:
    time: datetime
    username: str
    ip: str
    country: str | None
    verdict: str
    reason: str


@dataclass(frozen=True)
class Contact:
    """An owner's second-factor data: the alternate contact registered by the administrator, the TOTP secret."""
    username: str
    alt_contact: str | None = None
    totp_secret: str | None = None
    totp_last_step: int | None = None


def normalise_username(username: str) -> str:
    """The one key of a user, for the web page (login name) and the policy server (Postfix's sasl_username)
    alike: Unicode NFC, surrounding white space removed, lower case. NFC because the same name may arrive
    composed from one client and decomposed from another ("é" vs "e"+U+0301); without it a lock set on one
    spelling would not be found under the other."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", username).strip().lower())
