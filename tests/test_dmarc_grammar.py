"""DMARC grammar vectors written from the ABNF of RFC 9989 §4.8 and RFC 7489 §6.4: every row of the tables in
checks/dmarc/grammar.py has records inside and outside it, each with what ``valid`` (RFC 9989) and
``valid_rfc7489`` must say, plus the record examples of RFC 7489 Appendix B."""

from __future__ import annotations

import pytest

from mailposture.checks.dmarc.grammar import RECORD_RULES, TAG_RULES
from mailposture.checks.dmarc.parse import parse_record

R = "v=DMARC1; p=reject"
# rule (a RECORD_RULES id or a TAG_RULES tag) -> [(record, valid, valid_rfc7489)]
VECTORS: dict[str, list[tuple[str, bool, bool]]] = {
    "version-first": [(R, True, True), ("V=DMARC1; p=reject", True, True), ("v = DMARC1 ; p=reject", True, True),
                      ("v=dmarc1; p=reject", False, False), ("v=DMARC10; p=reject", False, False),
                      ("p=reject; v=DMARC1", False, False), ("v=DMARC1; p=reject; v=DMARC1", False, False), ("", False, False)],
    "no-leading-space": [(" v=DMARC1; p=reject", False, False), ("\tv=DMARC1; p=reject", False, False)],
    "separator": [("v=DMARC1;p=reject", True, True), ("v=DMARC1 \t;\t p=reject", True, True),
                  ("v=DMARC1 p=reject", False, False), ("v=DMARC1;\r\np=reject", False, False),
                  ("v=DMARC1; p=reject;", True, True), ("v=DMARC1; p=reject; \t", True, True)],
    "empty-tag": [("v=DMARC1;;p=reject", False, False), ("v=DMARC1; p=reject;;", False, False),
                  ("v=DMARC1; ; p=reject", False, False)],
    "tag-syntax": [("v=DMARC1; p=reject; x=1", True, True), ("v=DMARC1; p=reject; junk", False, False),
                   ("v=DMARC1; p=reject; =x", False, False), ("v=DMARC1; p=reject; x1=y", False, False),
                   ("v=DMARC1; p=reject; rua=", False, False)],
    "value-chars": [("v=DMARC1; p=reject; x=a b", True, True), ("v=DMARC1; p=reject; x=a\x01b", False, False),
                    ("v=DMARC1; p=reject; x=\u00e9", False, False), ("v=DMARC1; p=reject; x=a\x7f", False, False)],
    "no-duplicate": [("v=DMARC1; p=reject; p=none", False, False), ("v=DMARC1; p=reject; P=reject", False, False),
                     ("v=DMARC1; p=reject; x=1; x=2", False, False)],
    "p-required": [("v=DMARC1", True, False), ("v=DMARC1;", True, False), ("v=DMARC1; rua=mailto:a@ex.example", True, False)],
    "p-second": [("v=DMARC1; rua=mailto:a@ex.example; p=reject", True, False), ("v=DMARC1; p=reject; sp=none", True, True)],
    "uri": [("v=DMARC1; p=reject; rua=mailto:a@ex.example", True, True),
            ("v=DMARC1; p=reject; rua=mailto:a%2Cb@ex.example", True, True),
            ("v=DMARC1; p=reject; rua=mailto:a@ex.example!10m", True, True),
            ("v=DMARC1; p=reject; rua=mailto:a@ex.example!10x", True, False),
            ("v=DMARC1; p=reject; rua=mailto:a@ex.example,mailto:b@ex.example", True, True),
            ("v=DMARC1; p=reject; rua=mailto:a@ex.example , mailto:b@ex.example", True, True),
            ("v=DMARC1; p=reject; rua=https://ex.example/r", True, True),
            ("v=DMARC1; p=reject; rua=a@ex.example", False, False),
            ("v=DMARC1; p=reject; rua=mailto:a@ex.example,", False, False),
            ("v=DMARC1; p=reject; rua=mailto:\u00e9@ex.example", False, False),
            ("v=DMARC1; p=reject; rua=mailto:a%zz@ex.example", False, False)],
    "p": [("v=DMARC1; p=none", True, True), ("v=DMARC1; p=QUARANTINE", True, True), ("v=DMARC1; p=rejected", False, False),
          ("v=DMARC1; p=", False, False)],
    "sp": [(R + "; sp=none", True, True), (R + "; sp=all", False, False)],
    "np": [(R + "; np=quarantine", True, True), (R + "; np=yes", False, True)],     # np is not an RFC 7489 tag
    "adkim": [(R + "; adkim=s", True, True), (R + "; adkim=strict", False, False)],
    "aspf": [(R + "; aspf=R", True, True), (R + "; aspf=x", False, False)],
    "t": [(R + "; t=y", True, True), (R + "; t=n", True, True), (R + "; t=1", False, True)],
    "psd": [(R + "; psd=u", True, True), (R + "; psd=yes", False, True)],
    "fo": [(R + "; fo=1", True, True), (R + "; fo=d:s", True, True), (R + "; fo=1:d:s", True, True),
           (R + "; fo=0 : s", True, True), (R + "; fo=0:1", False, True), (R + "; fo=d:d", False, True),
           (R + "; fo=2", False, False), (R + "; fo=", False, False)],
    "rua": [(R + "; rua=mailto:a@ex.example", True, True), (R + "; rua=x", False, False)],
    "ruf": [(R + "; ruf=mailto:a@ex.example!20k", True, True), (R + "; ruf=mailto:", False, False)],
    # removed by RFC 9989: no value of theirs makes a record invalid there (RFC 9989 §4.7); RFC 7489 §6.3 checks them
    "pct": [(R + "; pct=0", True, True), (R + "; pct=100", True, True), (R + "; pct=101", True, False),
            (R + "; pct=0050", True, False), (R + "; pct=abc", True, False)],
    "rf": [(R + "; rf=afrf", True, True), (R + "; rf=afrf:iodef", True, True), (R + "; rf=a_b", True, False)],
    "ri": [(R + "; ri=86400", True, True), (R + "; ri=4294967295", True, True), (R + "; ri=4294967296", True, False),
           (R + "; ri=-1", True, False)],
}

RFC_EXAMPLES = [  # RFC 7489 Appendix B.2 (and §6.2's URI example)
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net",
    "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; pct=25",
    "v=DMARC1; p=none; rua=mailto:reports@example.com!50m",
]


def test_every_table_row_has_vectors_inside_and_outside():
    assert set(VECTORS) == set(RECORD_RULES) | set(TAG_RULES)
    for rule, cases in VECTORS.items():
        assert any(v for _, v, _ in cases) or rule in ("no-leading-space", "empty-tag", "no-duplicate"), rule
        assert any(not (v and o) for _, v, o in cases), rule


@pytest.mark.parametrize("rule, text, valid, valid_7489",
                         [(r, t, v, o) for r, cases in VECTORS.items() for t, v, o in cases])
def test_vector(rule, text, valid, valid_7489):
    rec = parse_record(text)
    assert (rec.valid, rec.valid_rfc7489) == (valid, valid_7489), (rule, rec.violations,
                                                                  [f.code for f in rec.findings])


@pytest.mark.parametrize("text", RFC_EXAMPLES)
def test_rfc_examples(text):
    rec = parse_record(text)
    # pct and !size are RFC 7489 only, and inside its grammar; RFC 9989 ignores them
    assert rec.valid and rec.valid_rfc7489 and rec.dmarc


def test_rules_name_their_sections():
    for r in RECORD_RULES.values():
        assert "RFC" in r.section and set(r.standards) <= {"9989", "7489"}
    for r in TAG_RULES.values():
        assert (r.rfc9989 or r.rfc7489) and (r.check9989 is None) == (r.rfc9989 is None or r.tag in ("rua", "ruf"))
