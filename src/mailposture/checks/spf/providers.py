"""The bundled catalogue of shared mail providers' SPF include domains (``data/providers/spf_providers.csv``,
sourced per row, see its PROVENANCE.md) and of DMARC report-processing services (``dmarc_report_services.csv``).

Pure lookups: :func:`spf_provider` says which catalogued provider an include target belongs to (the entry's
domain itself or a subdomain of it), :func:`report_service` the same for a ``rua`` destination host.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Provider:
    domain: str          # the include domain (or report host suffix) of the catalogue row
    name: str            # English name
    name_ja: str         # Japanese name
    category: str        # cloud-mail, delivery, jp-hosting, jp-delivery, demo, report
    source: str

    def label(self, lang: str) -> str:
        return self.name_ja if lang == "ja" else self.name


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("mailposture").joinpath(f"data/providers/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@functools.cache
def spf_catalogue() -> dict[str, Provider]:
    return {r["include_domain"].lower(): Provider(r["include_domain"].lower(), r["provider"], r["provider_ja"],
                                                  r["category"], r["source"])
            for r in _read("spf_providers.csv")}


@functools.cache
def report_catalogue() -> dict[str, Provider]:
    return {r["domain"].lower(): Provider(r["domain"].lower(), r["service"], r["service_ja"], "report", r["source"])
            for r in _read("dmarc_report_services.csv")}


def _suffix_match(name: str, table: dict[str, Provider]) -> Provider | None:
    n = name.lower().rstrip(".")
    while n:
        if n in table:
            return table[n]
        if "." not in n:
            return None
        n = n.split(".", 1)[1]
    return None


def spf_provider(target: str) -> Provider | None:
    """The catalogued shared provider of an SPF include target, or None (an own or unknown include)."""
    return _suffix_match(target, spf_catalogue())


def report_service(host: str) -> Provider | None:
    """The catalogued DMARC report-processing service of a ``rua`` destination host, or None."""
    return _suffix_match(host, report_catalogue())
