"""parse_email: specific cases, the corpus, and fuzzing (it must never raise)."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svcbench.probes.email.parse import (
    MAX_TEXT_CHARS,
    ParsedEmail,
    html_to_text,
    parse_email,
    strip_subject_prefixes,
)

CORPUS = Path(__file__).parent / "data" / "emails"
OUR_ID = "K3J9X2M4PQ.1763888400.41873@shopper.test"


def msg(headers: str, body: str | bytes = "hello\n") -> bytes:
    head = headers.strip("\n").encode("utf-8", "surrogateescape")
    tail = body if isinstance(body, bytes) else body.encode("utf-8")
    return head + b"\n\n" + tail


def assert_sane(p: ParsedEmail) -> None:
    """Every field has its declared type and nothing unprintable leaks out."""
    assert isinstance(p, ParsedEmail)

    def clean(s: str) -> None:
        assert isinstance(s, str)
        assert "\x00" not in s
        s.encode("utf-8")  # raises on lone surrogates

    for name in ("message_id", "from_addr", "from_name", "dsn_original_message_id",
                 "dsn_failed_recipient", "return_path", "report_type"):
        value = getattr(p, name)
        assert value is None or (isinstance(value, str) and (clean(value) or True)), name
    for name in ("in_reply_to", "references", "to", "cc", "delivered_to", "defects",
                 "reply_to", "dsn_actions"):
        value = getattr(p, name)
        assert isinstance(value, tuple), name
        for item in value:
            clean(item)
    for value in (p.subject, p.text, p.content_type):
        clean(value)
    assert len(p.text) <= MAX_TEXT_CHARS
    assert isinstance(p.headers, dict)
    for key, values in p.headers.items():
        clean(key)
        assert key == key.lower()
        assert isinstance(values, tuple)
        for v in values:
            clean(v)
    for value in (p.date, p.received_at):
        assert value is None or (isinstance(value, datetime) and value.utcoffset() is not None
                                 and value.utcoffset().total_seconds() == 0)
    assert isinstance(p.is_dsn, bool)
    assert isinstance(p.size, int) and p.size >= 0
    for mid in (p.message_id, *p.in_reply_to, *p.references):
        if mid:
            assert "<" not in mid and ">" not in mid and mid == mid.strip()


# ------------------------------------------------------------------------- headers


def test_rfc2047_subject_and_names_are_decoded():
    raw = msg("""From: =?utf-8?q?M=C3=BCller=2C_J=C3=BCrgen?= <Juergen.Mueller@Shop.Example>
To: "Taylor, Sam" <SAM@shopper.test>, other@shopper.test
Cc: =?iso-8859-1?b?Suly9G1l?= <jerome@shop.example>
Subject: =?utf-8?b?UsO8Y2tzZW5kdW5n?= =?iso-8859-1?q?_f=FCr?= Bestellung""")
    p = parse_email(raw)
    assert p.subject == "Rücksendung für Bestellung"
    assert p.from_name == "Müller, Jürgen"  # the encoded comma does not split the address
    assert p.from_addr == "juergen.mueller@shop.example"
    assert p.to == ("sam@shopper.test", "other@shopper.test")
    assert p.cc == ("jerome@shop.example",)


def test_unknown_charset_and_bad_encoded_words_do_not_break_headers():
    raw = msg("""From: =?x-no-such-charset?q?Bob?= <bob@shop.example>
Subject: =?utf-8?b?!!!notbase64?= and =?utf-8?q?caf=C3=A9?= =?bogus?q?plain?=""")
    p = parse_email(raw)
    assert p.from_addr == "bob@shop.example"
    assert p.from_name == "Bob"
    assert "café" in p.subject
    assert "plain" in p.subject
    assert_sane(p)


def test_raw_8bit_headers_are_decoded():
    utf8 = "Subject: Größe 44 – verfügbar?\nFrom: Zoë <zoe@shop.example>".encode()
    latin1 = "Subject: Gr\xf6\xdfe".encode("latin-1")
    p = parse_email(utf8 + b"\n\nbody")
    assert p.subject == "Größe 44 – verfügbar?"
    assert p.from_name == "Zoë"
    assert parse_email(latin1 + b"\n\nbody").subject == "Größe"


def test_message_ids_lose_brackets_and_keep_order():
    p = parse_email(msg(f"""Message-ID:   <abc.123@shop.example>
In-Reply-To: <{OUR_ID}> (comment)
References: <a@x.example>
 <b@x.example>	<{OUR_ID}>"""))
    assert p.message_id == "abc.123@shop.example"
    assert p.in_reply_to == (OUR_ID,)
    assert p.references == ("a@x.example", "b@x.example", OUR_ID)
    bare = parse_email(msg("Message-ID: no-brackets@shop.example\nIn-Reply-To: x@y.example"))
    assert bare.message_id == "no-brackets@shop.example"
    assert bare.in_reply_to == ("x@y.example",)


def test_date_is_aware_utc_and_invalid_dates_are_none():
    p = parse_email(msg("Date: Mon, 23 Nov 2026 10:00:00 +0100"))
    assert p.date == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    naive = parse_email(msg("Date: Mon, 23 Nov 2026 10:00:00 -0000"))
    assert naive.date == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    for bad in ("yesterday", "Mon, 99 Foo 2026 99:99:99 +9999", ""):
        parsed = parse_email(msg(f"Date: {bad}"))
        assert parsed.date is None
    assert "invalid Date header" in parse_email(msg("Date: yesterday")).defects
    assert parse_email(msg("Subject: x")).date is None


def test_received_at_comes_from_the_topmost_header():
    p = parse_email(msg("""Received: from mx.shop.example (mx.shop.example [192.0.2.1])
	by mail.shopper.test (Postfix) with ESMTPS id 4cZq; Mon, 23 Nov 2026 10:14:07 +0100 (CET)
Received: from app.shop.example by mx.shop.example; Mon, 23 Nov 2026 09:10:00 +0000
Date: Mon, 23 Nov 2026 10:00:00 +0100"""))
    assert p.received_at == datetime(2026, 11, 23, 9, 14, 7, tzinfo=UTC)
    no_semicolon = parse_email(msg("Received: from a by b with SMTP id 1\nSubject: x"))
    assert no_semicolon.received_at is None
    assert parse_email(msg("Received: from a; not a date")).received_at is None


def test_delivered_to_return_path_and_reply_to():
    p = parse_email(msg("""Return-Path: <>
Delivered-To: Sam+K3J9@shopper.test
X-Original-To: sam+k3j9@shopper.test
Reply-To: Support <support+id48213@acme.zendesk.com>"""))
    assert p.return_path == ""
    assert p.delivered_to == ("sam+k3j9@shopper.test", "sam+k3j9@shopper.test")
    assert p.reply_to == ("support+id48213@acme.zendesk.com",)
    assert parse_email(msg("Subject: x")).return_path is None


def test_headers_dict_keeps_every_value_in_order():
    p = parse_email(msg("X-Tag: one\nx-tag: two\nX-TAG: =?utf-8?q?dr=C3=A9i?="))
    assert p.headers["x-tag"] == ("one", "two", "dréi")
    assert p.header("X-Tag") == "one"
    assert p.header("missing") is None


@pytest.mark.parametrize(("subject", "expected"), [
    ("Re: Where is my order?", "Where is my order?"),
    ("RE: AW: SV: Fwd: WG: TR: Where is my order?", "Where is my order?"),
    ("[acme.test #42] Re: Where is my order?", "Where is my order?"),
    ("Re: [#4521] Missing notebook", "Missing notebook"),
    ("Re: Question about blankets [#123]", "Question about blankets"),
    ("Re[2]: Rücksendung", "Rücksendung"),
    ("RE : Délai de livraison", "Délai de livraison"),
    ("[Acme] Re: [Acme] Re:   Warranty   for kettle", "Warranty for kettle"),
    ("Antw: Vraag", "Vraag"),
    ("Where is my order?", "Where is my order?"),
    ("", ""),
])
def test_strip_subject_prefixes(subject, expected):
    assert strip_subject_prefixes(subject) == expected


# ---------------------------------------------------------------------------- bodies


def test_html_only_body_becomes_readable_text():
    html = ("<html><head><title>t</title><style>p{color:red}</style>"
            "<script>alert('x')</script></head><body><p>Hello&nbsp;Sam &amp; co,</p>"
            "<div>the <b>jacket</b> ships<br>tomorrow.</div>"
            "<blockquote>earlier message</blockquote></body></html>")
    p = parse_email(msg("Content-Type: text/html; charset=utf-8", html))
    assert p.text_from_html
    assert "Hello Sam & co," in p.text
    assert "the jacket ships\ntomorrow." in p.text
    assert "> earlier message" in p.text
    assert "alert" not in p.text and "color:red" not in p.text


def test_plain_text_is_preferred_over_html_in_alternative():
    raw = msg('Content-Type: multipart/alternative; boundary="b"', """--b
Content-Type: text/html

<p>html version</p>
--b
Content-Type: text/plain; charset=utf-8

plain version
--b--
""")
    p = parse_email(raw)
    assert p.text.strip() == "plain version"
    assert not p.text_from_html


def test_html_to_text_survives_broken_markup():
    assert "text" in html_to_text("<p><b>text</p></div></i><<>>&bogus;")


def test_base64_and_qp_bodies_with_charsets():
    body = base64.encodebytes("Grüße aus Köln".encode("iso-8859-1")).decode()
    p = parse_email(msg("Content-Type: text/plain; charset=ISO-8859-1\n"
                        "Content-Transfer-Encoding: base64", body))
    assert p.text.strip() == "Grüße aus Köln"
    qp = parse_email(msg("Content-Type: text/plain; charset=utf-8\n"
                         "Content-Transfer-Encoding: quoted-printable",
                         "caf=C3=A9 =\nsoft break"))
    assert qp.text.strip() == "café soft break"


def test_bad_charsets_and_invalid_bytes_fall_back():
    unknown = parse_email(msg("Content-Type: text/plain; charset=x-bogus-42",
                              "Größe".encode()))
    assert unknown.text.strip() == "Größe"
    mislabelled = parse_email(msg("Content-Type: text/plain; charset=utf-8",
                                  "Gr\xf6\xdfe".encode("latin-1")))
    assert mislabelled.text.strip() == "Größe"
    assert any("charset fallback" in d for d in mislabelled.defects)
    ascii_label = parse_email(msg("Content-Type: text/plain; charset=us-ascii",
                                  "naïve".encode()))
    assert ascii_label.text.strip() == "naïve"


def test_broken_transfer_encodings_do_not_raise():
    for cte, body in (("base64", "!!!! not base64 at all ==== x"), ("base64", "SGVsbG8"),
                      ("quoted-printable", "=ZZ=\n=4"), ("x-uuencode", "begin 644 x\nbad\n"),
                      ("gzip", "\x00\x01")):
        p = parse_email(msg(f"Content-Transfer-Encoding: {cte}", body))
        assert_sane(p)
    assert parse_email(msg("Content-Transfer-Encoding: base64", "SGVsbG8")).text == "Hello"


def test_nested_multiparts_and_truncated_mime():
    depth = 60
    parts = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'
                    for i in range(1, depth))
    raw = msg('Content-Type: multipart/mixed; boundary="b0"',
              "--b0\n" + parts + "Content-Type: text/plain\n\ndeep text\n")
    p = parse_email(raw)
    assert_sane(p)
    truncated = parse_email(msg('Content-Type: multipart/alternative; boundary="zz"',
                                "--zz\nContent-Type: text/plain\n\nhalf a mess"))
    assert truncated.text.strip() == "half a mess"
    assert any("Boundary" in d for d in truncated.defects)


def test_no_body_empty_and_garbage_input():
    headers_only = parse_email(b"From: a@shop.example\nSubject: only headers")
    assert headers_only.subject == "only headers" and headers_only.text == ""
    for raw in (b"", b"\n\n\n", b"\x00" * 100, bytes(range(256)) * 10,
                b"%PDF-1.4 binary junk \xff\xfe", "not bytes at all", None, 42):
        p = parse_email(raw)  # type: ignore[arg-type]
        assert_sane(p)
    assert "empty input" in parse_email(b"").defects


def test_huge_body_is_fast_and_text_is_capped():
    line = b"All work and no play makes Jack a dull boy. " * 2 + b"\n"
    body = line * (20_000_000 // len(line))
    raw = msg("From: big@shop.example\nSubject: big\nContent-Type: text/plain", body)
    assert len(raw) > 19_000_000
    start = time.perf_counter()
    p = parse_email(raw)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"parsing 20 MB took {elapsed:.2f} s"
    assert len(p.text) == MAX_TEXT_CHARS
    assert p.size == len(raw)
    assert p.subject == "big"
    base64_body = base64.encodebytes(b"x" * 15_000_000)
    start = time.perf_counter()
    p = parse_email(msg("Content-Transfer-Encoding: base64", base64_body))
    assert time.perf_counter() - start < 1.0
    assert p.text == "x" * MAX_TEXT_CHARS


def test_huge_single_line_header_and_body():
    raw = b"Subject: " + b"A" * 2_000_000 + b"\n\n" + b"B" * 5_000_000
    start = time.perf_counter()
    p = parse_email(raw)
    assert time.perf_counter() - start < 1.0
    assert p.subject.startswith("AAAA")
    assert_sane(p)


# ------------------------------------------------------------------------------ DSN


def test_dsn_original_message_id_from_message_rfc822():
    p = parse_email((CORPUS / "bounce" / "001-postfix-dsn-rfc822.eml").read_bytes())
    assert p.is_dsn
    assert p.report_type == "delivery-status"
    assert p.dsn_original_message_id == OUR_ID
    assert p.dsn_failed_recipient == "info@closed-shop.example"
    assert p.dsn_actions == ("failed",)
    assert "could not" in p.text


def test_dsn_original_message_id_from_text_rfc822_headers():
    p = parse_email((CORPUS / "bounce" / "002-exchange-ndr-rfc822-headers.eml").read_bytes())
    assert p.is_dsn
    assert p.dsn_original_message_id == OUR_ID
    assert p.dsn_failed_recipient == "info@closed-shop.example"


def test_non_mime_bounces_yield_ids_from_the_text():
    qmail = parse_email((CORPUS / "bounce" / "004-qmail-failure-notice-plain.eml").read_bytes())
    assert not qmail.is_dsn
    assert qmail.dsn_original_message_id == OUR_ID
    assert qmail.dsn_failed_recipient == "shop@oldhost.example"
    exim = parse_email((CORPUS / "bounce" / "005-exim-mail-delivery-failed.eml").read_bytes())
    assert exim.dsn_failed_recipient == "orders@fullbox.example"
    assert exim.dsn_original_message_id == OUR_ID


def test_read_receipt_is_a_report_but_not_a_dsn():
    p = parse_email((CORPUS / "auto_other" / "006-read-receipt-mdn.eml").read_bytes())
    assert p.content_type == "multipart/report"
    assert p.report_type == "disposition-notification"
    assert not p.is_dsn


# ---------------------------------------------------------------------------- corpus


def corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.eml"))


def test_every_corpus_file_parses_cleanly():
    files = corpus_files()
    assert len(files) >= 60
    for path in files:
        raw = path.read_bytes()
        p = parse_email(raw)
        assert_sane(p)
        if path.name[0].isdigit():  # the project's own files are complete; real ones vary
            assert p.from_addr and "@" in p.from_addr, path.name
            assert p.message_id, path.name
            assert p.date is not None, path.name
            assert p.received_at is not None, path.name
            assert p.text.strip() or p.is_dsn, path.name
        # CRLF and LF files parse the same way
        q = parse_email(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        assert (q.subject, q.from_addr, q.message_id) == (p.subject, p.from_addr, p.message_id)


# ---------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.binary(max_size=4000))
def test_fuzz_arbitrary_bytes(raw):
    assert_sane(parse_email(raw))


HEADER_NAMES = st.sampled_from([
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Received", "Return-Path", "Delivered-To", "Reply-To", "Content-Type",
    "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted", "X-Mailer",
    "MIME-Version", "X-Weird\x00Name", "Subject ", "X-" + "L" * 200])
CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis",
                            "x-unknown", "bogus\x01", "utf-7", "utf-16", "", "utf-8*en", "gb2312"])
HEADER_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x20), max_size=40),
    st.builds(lambda cs, enc, t: f"=?{cs}?{enc}?{t}?=", CHARSETS, st.sampled_from("bBqQx"),
              st.text(max_size=40)),
    st.builds(lambda n, a: f'"{n}" <{a}>', st.text(max_size=30), st.text(max_size=30)),
    st.builds(lambda cs, b: f'multipart/mixed; boundary="{b}"; charset={cs}', CHARSETS,
              st.text(max_size=20)),
    st.just("a" * 10_000),
)


@st.composite
def hostile_messages(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        name, value = draw(HEADER_NAMES), draw(HEADER_TEXT)
        encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
        lines.append(f"{name}: {value}".encode(encoding, "replace"))
    ctype = draw(st.sampled_from(["text/plain", "text/html", "multipart/alternative",
                                  "multipart/report; report-type=delivery-status",
                                  "message/rfc822", "application/octet-stream"]))
    charset = draw(CHARSETS)
    lines.append(f'Content-Type: {ctype}; charset="{charset}"; boundary="B"'.encode())
    lines.append(draw(st.sampled_from([b"Content-Transfer-Encoding: base64",
                                       b"Content-Transfer-Encoding: quoted-printable",
                                       b"Content-Transfer-Encoding: 8bit", b""])))
    body_parts = draw(st.lists(st.one_of(
        st.binary(max_size=300),
        st.just(b"--B\nContent-Type: text/plain\n\nhello\n"),
        st.just(b"--B\nContent-Type: message/delivery-status\n\nAction: failed\n"
                b"Final-Recipient: rfc822; x@y.example\n"),
        st.just(b"--B\nContent-Type: message/rfc822\n\nMessage-ID: <m@x>\n\n"),
        st.just(b"--B--\n"),
        st.just(b"\xff\xfe\x00" * 50),
        st.just(b"x" * 5000),
    ), max_size=8))
    sep = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    raw = sep.join(lines) + sep + sep + b"".join(body_parts)
    cut = draw(st.integers(0, len(raw)))
    return raw[:cut] if draw(st.booleans()) else raw


@FUZZ
@given(hostile_messages())
def test_fuzz_structured_hostile_messages(raw):
    p = parse_email(raw)
    assert_sane(p)
    assert p.size == len(raw)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_strip_subject_prefixes(subject):
    once = strip_subject_prefixes(subject)
    assert isinstance(once, str)
    assert strip_subject_prefixes(once) == once


@pytest.mark.parametrize("header", ["Content-Type", "From", "To", "Message-ID", "Subject"])
@pytest.mark.parametrize("value", [b'"' * 100_000, b"a," * 50_000, b"; a=b" * 20_000,
                                   b"a@" * 50_000, b"<" * 100_000])
def test_hostile_header_values_stay_fast(header, value):
    # Regression: policy.default's Content-Type parser took 567 s on 100k '"', and a
    # per-address rescan made 'a,a,a,...' in To quadratic. The bound only catches such
    # blow-ups (it is not a speed target: a loaded CI machine took over 1 s for a linear parse;
    # bench/email_classifier.py measures speed).
    raw = header.encode() + b": " + value + b"\n\nbody"
    start = time.perf_counter()
    p = parse_email(raw)
    assert time.perf_counter() - start < 10.0
    assert_sane(p)


@FUZZ
@given(st.sampled_from(corpus_files()), st.integers(0, 10_000),
       st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
                max_size=6))
def test_fuzz_mutated_corpus_files(path, cut, edits):
    """Real messages, truncated and with bytes overwritten: still a sane record."""
    raw = bytearray(path.read_bytes())
    for pos, data in edits:
        pos %= max(1, len(raw))
        raw[pos:pos + len(data)] = data
    raw = bytes(raw[: len(raw) - cut % max(1, len(raw))])
    assert_sane(parse_email(raw))
