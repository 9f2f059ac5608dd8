"""Postfix policy protocol parser (SMTPD_POLICY_README): valid requests, connection reuse, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailposture.guard.protocol import MAX_REQUEST_BYTES, ProtocolError, RequestParser, format_response

REQ = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=8.8.8.8\n"
       b"client_name=unknown\nsasl_method=PLAIN\nsasl_username=alice@example.test\nnew_future_attr=x=y\n\n")


def test_one_request_and_unknown_attributes_kept() -> None:
    reqs, err = RequestParser().feed(REQ)
    assert err is None and len(reqs) == 1
    assert reqs[0]["sasl_username"] == "alice@example.test"
    assert reqs[0]["new_future_attr"] == "x=y"  # split at the first '=' only


def test_connection_reuse_several_requests_in_one_chunk_and_split_bytewise() -> None:
    p = RequestParser()
    reqs, err = p.feed(REQ * 3)
    assert err is None and len(reqs) == 3 and p.pending == 0
    got = []
    for i in range(len(REQ) * 2):
        r, err = p.feed((REQ * 2)[i:i + 1])
        assert err is None
        got += r
    assert len(got) == 2 and p.pending == 0


def test_missing_blank_line_keeps_waiting() -> None:
    p = RequestParser()
    reqs, err = p.feed(REQ[:-1])
    assert reqs == [] and err is None and p.pending == len(REQ) - 1
    reqs, err = p.feed(b"\n")
    assert len(reqs) == 1 and err is None


def test_oversized_request_rejected_even_without_terminator() -> None:
    p = RequestParser()
    big = b"request=smtpd_access_policy\nhelo_name=" + b"a" * (MAX_REQUEST_BYTES + 10)
    reqs, err = p.feed(big)
    assert reqs == [] and isinstance(err, ProtocolError) and "larger" in str(err)
    reqs, err = RequestParser().feed(big + b"\n\n")
    assert reqs == [] and err is not None
    # Arriving in small pieces: the limit still holds.
    p = RequestParser()
    err = None
    for i in range(0, len(big), 4096):
        _, err = p.feed(big[i:i + 4096])
        if err:
            break
    assert err is not None


@pytest.mark.parametrize("data, what", [
    (b"request=smtpd_access_policy\nno equals sign here\n\n", "without '='"),
    (b"\x00\xff\xfe\x01garbage\x07\n\n", "NUL"),
    (b"\xff\xfe\xfd\n\n", "without '='"),
    (b"request=smtpd_access_policy\nBAD NAME=1\n\n", "bad attribute name"),
    (b"sasl_username=a\n\n", "no 'request'"),
    (b"request=something_else\n\n", "unsupported request"),
    (b"\n", "empty request"),
    (b"=value\nrequest=smtpd_access_policy\n\n", "bad attribute name"),
])
def test_hostile_input_is_an_error(data: bytes, what: str) -> None:
    reqs, err = RequestParser().feed(data)
    assert reqs == []
    assert err is not None and what in str(err)


def test_valid_requests_before_garbage_are_still_returned() -> None:
    reqs, err = RequestParser().feed(REQ + b"junk\n\n")
    assert len(reqs) == 1 and err is not None


def test_crlf_and_8bit_values_tolerated() -> None:
    reqs, err = RequestParser().feed(REQ.replace(b"\n", b"\r\n"))
    assert err is None and reqs[0]["client_address"] == "8.8.8.8"
    reqs, err = RequestParser().feed(b"request=smtpd_access_policy\nhelo_name=\xe3\x81\x82\xff\n\n")
    assert err is None and reqs[0]["helo_name"].startswith("あ")


def test_format_response() -> None:
    assert format_response("DUNNO") == b"action=DUNNO\n\n"
    assert format_response("REJECT 海外") == "action=REJECT 海外\n\n".encode()
    with pytest.raises(ValueError):
        format_response("DUNNO\n\naction=OK")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_fuzz_never_raises(chunks: list[bytes]) -> None:
    p = RequestParser(max_bytes=1024)
    for c in chunks:
        reqs, err = p.feed(c)
        for r in reqs:
            assert r["request"] == "smtpd_access_policy"
        if err is not None:
            break


FIELDS = ("sasl_username", "client_address", "client_name", "recipient_count")


def test_fields_keep_only_the_named_attributes_and_a_later_duplicate_wins() -> None:
    reqs, err = RequestParser(fields=FIELDS).feed(REQ + REQ.replace(b"\n\n", b"\nclient_address=1.2.3.4\n\n"))
    assert err is None and len(reqs) == 2
    assert reqs[0] == {"request": "smtpd_access_policy", "client_address": "8.8.8.8", "client_name": "unknown",
                       "sasl_username": "alice@example.test"}
    assert reqs[1]["client_address"] == "1.2.3.4"
    # first line, empty value, value with '='
    reqs, err = RequestParser(fields=["sasl_username", "helo_name"]).feed(
        b"sasl_username=a=b\nrequest=smtpd_access_policy\nhelo_name=\n\n")
    assert err is None and reqs == [{"sasl_username": "a=b", "request": "smtpd_access_policy", "helo_name": ""}]
    with pytest.raises(ValueError):
        RequestParser(fields=["bad name"])


@pytest.mark.parametrize("data", [
    b"request=smtpd_access_policy\nno equals sign here\n\n", b"sasl_username=a\n\n", b"request=x\n\n",
    b"request=smtpd_access_policy\nBAD=1\n\n", b"request=smtpd_access_policy\nsasl_username=\x00\n\n", b"\n\n",
])
def test_fields_still_validate_every_line(data: bytes) -> None:
    full = RequestParser().feed(data)
    lean = RequestParser(fields=FIELDS).feed(data)
    assert full[0] == lean[0] == [] and str(full[1]) == str(lean[1]) != "None"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"request=smtpd_access_policy\n", b"sasl_username=u\n", b"client_address=1.2.3.4\n",
                                 b"client_name=x=y\n", b"helo_name=\xff\n", b"x\n", b"\n", b"\r\n", b"a=", b"\x00"]),
                max_size=12), st.integers(1, 40))
def test_fields_parser_agrees_with_the_full_parser(parts: list[bytes], chunk: int) -> None:
    data = b"".join(parts)
    full, lean = RequestParser(max_bytes=200), RequestParser(max_bytes=200, fields=FIELDS)
    for i in range(0, len(data), chunk):
        (fr, fe), (lr, le) = full.feed(data[i:i + chunk]), lean.feed(data[i:i + chunk])
        assert [{k: v for k, v in r.items() if k in (*FIELDS, "request")} for r in fr] == lr
        assert str(fe) == str(le)
        if fe is not None:
            break
