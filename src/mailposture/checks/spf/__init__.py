"""SPF (RFC 7208): parser, macro expansion, check_host() evaluation and survey analysis.

Public API: :func:`parse_record` (offline), :func:`check_host` / :func:`check_spf` (evaluation with trace),
:func:`analyze` (the survey section of a domain).
"""

from mailposture.checks.spf.analyze import analyze, record_findings
from mailposture.checks.spf.evaluate import SpfResult, check_host, check_spf
from mailposture.checks.spf.parse import SpfRecord, Term, is_spf_record, parse_record

__all__ = ["SpfRecord", "SpfResult", "Term", "analyze", "check_host", "check_spf", "is_spf_record",
           "parse_record", "record_findings"]
