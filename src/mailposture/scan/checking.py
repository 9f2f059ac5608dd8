"""What a scan checks for each domain: the sections (``--checks``), the per-domain options and the default check.

Shared by the command (:mod:`mailposture.scan.cli`), the worker processes (:mod:`mailposture.scan.workers`) and
the Dask shard tasks (:mod:`mailposture.scan.cluster`); it lives below all three so that each depends one way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailposture.scan.runner import CheckFn, ScanSettings

#: check_factory(resolver, settings) -> check(domain, attrs) coroutine function (default: check_domain)
CheckFactory = Callable[[Any, ScanSettings], CheckFn]


def default_check_factory(resolver: Any, settings: ScanSettings) -> CheckFn:
    """``check(domain, attrs)`` running :func:`mailposture.checks.domain.check_domain` with the scan's options."""
    from mailposture.checks.domain import check_domain

    options = check_options(settings)
    if settings.fetch:
        from mailposture.checks import fetch

        fetch.set_concurrency(settings.fetch_concurrency)

    async def check(domain: str, attrs: dict[str, str]) -> dict[str, Any]:
        return await check_domain(domain, resolver, attrs=attrs, lang=settings.lang, options=options)

    return check


def check_options(settings: ScanSettings) -> Any:
    """The per-domain CheckOptions of a scan: the same in this process, in --workers and in --cluster tasks."""
    from mailposture.checks.domain import ALL_SECTIONS, CheckOptions

    # --checks all asks everything `check` asks, the obsolete SPF RR type included (one query more a domain)
    return CheckOptions(sections=tuple(settings.sections), mx_resolve_hosts=settings.mx_hosts,
                        spf_type99=tuple(settings.sections) == ALL_SECTIONS,
                        fetch=settings.fetch, ca_file=settings.ca_file,
                        validating_resolver=settings.validating_resolver, dkim_selectors=settings.dkim_selectors,
                        keep_answers=settings.keep_answers, concurrent_sections=False)


def parse_checks(text: str) -> tuple[str, ...]:
    """``spf,dmarc,mx`` -> the sections in canonical order; ``all`` = every section. ValueError names a bad one."""
    from mailposture.checks.domain import ALL_SECTIONS

    wanted = [w.strip().lower().replace("-", "_") for w in text.split(",") if w.strip()]
    if not wanted:
        raise ValueError("--checks is empty")
    if "all" in wanted:
        return ALL_SECTIONS
    bad = [w for w in wanted if w not in ALL_SECTIONS]
    if bad:
        raise ValueError(f"unknown check(s) {', '.join(bad)}; choose among {','.join(ALL_SECTIONS)} or all")
    return tuple(s for s in ALL_SECTIONS if s in wanted)
