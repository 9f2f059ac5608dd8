"""SPF (RFC 7208): parser, macro expansion, check_host() evaluation and survey analysis."""

from mailposture.checks.spf.parse import SpfRecord, Term, is_spf_record, parse_record

__all__ = ["SpfRecord", "Term", "is_spf_record", "parse_record"]
