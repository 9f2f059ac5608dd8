"""A helper for tests of Japanese output: the English words left in a text, once protocol names, codes, domain
names, record texts and numbers are set aside."""

from __future__ import annotations

import re

PROTOCOL = {"SPF", "DMARC", "DNS", "MX", "all", "rua", "ruf", "JST", "UTC", "NXDOMAIN", "JP", "jp", "lg", "redirect",
            "none", "quarantine", "reject", "timeout", "servfail", "refused", "mailto", "include", "ip", "spf",
            "p", "sp", "v", "pt", "SHA", "mailposture", "csv", "xlsx", "json", "html", "png", "md"}


def english_leftovers(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    t = re.sub(r"(?<![\w])/\S+", " ", text)           # paths
    t = re.sub(r"\S*\.\S+", " ", t)                 # domain names, file names, versions
    t = re.sub(r"v=(spf1|DMARC1)[^,\n|│]*", " ", t)  # record texts
    t = re.sub(r"\b[A-Z][A-Z0-9]*(_[A-Z0-9]+)+\b", " ", t)  # finding / reason codes
    t = re.sub(r"(?<![\w-])--?[a-z][a-z-]*", " ", t)  # options (-n, --replace)
    words = re.findall(r"[A-Za-z][A-Za-z0-9-]*", t)
    return sorted({w for w in words if w not in PROTOCOL and w not in allowed and w.strip("-") not in PROTOCOL})
