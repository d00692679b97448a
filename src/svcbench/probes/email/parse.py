"""Parse raw email bytes into a small, safe, immutable record.

`parse_email` never raises: whatever is wrong with the input is recorded in `defects`.
Everything returned is a plain str/tuple/datetime with no surrogates or NUL characters,
so it can go straight into SQLite, JSON or a terminal.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.policy
import quopri
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser

MAX_TEXT_CHARS = 100_000
# The feed parser needs ~25 ms per MB; beyond this the rest is attachments we never read.
MAX_PARSE_BYTES = 4_000_000
# Enough raw bytes for MAX_TEXT_CHARS of UTF-8 text (and of base64 overhead).
_MAX_PAYLOAD_CHARS = MAX_TEXT_CHARS * 6
_MAX_HTML_CHARS = 2_000_000
_MAX_PARTS = 500
_MAX_DEPTH = 30
_MAX_HEADER_CHARS = 20_000
_MAX_ADDRESS_CHARS = 8_000
_MAX_ADDRESSES = 200
_FLUFL_MAX_BYTES = 256_000

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_MSGID = re.compile(r"<([^<>\s]+)>")
# Bounded repetitions: unbounded ones go quadratic on long runs without an '@'.
_BARE_MSGID = re.compile(r"[^\s<>,;\"@]{1,250}@[^\s<>,;\"]{1,250}")
_ADDR_IN_TEXT = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")


@dataclass(frozen=True)
class ParsedEmail:
    """What the email probe needs from one message, decoded and normalised."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_addr: str | None
    from_name: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]
    date: datetime | None
    received_at: datetime | None
    headers: dict[str, tuple[str, ...]] = field(hash=False)  # a dict cannot be hashed
    text: str
    content_type: str
    is_dsn: bool
    dsn_original_message_id: str | None
    dsn_failed_recipient: str | None
    size: int
    defects: tuple[str, ...]
    reply_to: tuple[str, ...] = ()
    return_path: str | None = None  # '' for the null reverse path '<>'
    report_type: str | None = None  # multipart/report's report-type, lower-cased
    dsn_actions: tuple[str, ...] = ()  # Action: fields of a DSN (failed, delayed, ...)
    text_from_html: bool = False
    #: flufl.bounce's verdict: addresses it found as permanent / temporary failures
    bounce_permanent: tuple[str, ...] = ()
    bounce_temporary: tuple[str, ...] = ()
    #: the delivery report sits below the top level (relayed, forwarded, wrapped in mixed)
    dsn_nested: bool = False

    def header(self, name: str) -> str | None:
        """First decoded value of a header (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


# ---------------------------------------------------------------------------- text helpers


def _clean(text: str) -> str:
    """Replace lone surrogates and drop NULs so the string is safe to store and print."""
    if not text:
        return ""
    text = _SURROGATES.sub("\ufffd", text)
    return text.replace("\x00", "")


def _charset_codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip("\"'").split("*", 1)[0].lower()  # RFC 2231 "utf-8*en"
    if name in ("unknown-8bit", "x-unknown", "unknown", "8bit", "default", "x-user-defined"):
        return None
    aliases = {"utf8": "utf-8", "ks_c_5601-1987": "cp949", "x-sjis": "shift_jis",
               "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "ansi_x3.4-1968": "ascii"}
    name = aliases.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):
        return None


def _utf8_multibyte(data: bytes) -> bool:
    """Valid UTF-8 with at least one multi-byte sequence: almost never an accident."""
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str, bool]:
    """Decode with the declared charset unless the bytes say otherwise.

    Text that is valid multi-byte UTF-8 is UTF-8 whatever the label says (a body declared
    iso-8859-1 or Big5 that is really UTF-8 is common); bytes the declared charset cannot
    decode go to charset-normalizer's detector, then cp1252/latin-1.
    Returns (text, clean) where clean is False if the label was wrong or a fallback was needed.
    """
    codec = _charset_codec(charset)
    if codec in ("ascii", "us-ascii"):
        codec = None  # mislabelled 8-bit text is common; utf-8 is a superset anyway
    if codec not in (None, "utf-8") and _utf8_multibyte(data):
        return data.decode("utf-8"), False
    for candidate in [c for c in (codec, "utf-8") if c]:
        try:
            return data.decode(candidate), candidate == (codec or "utf-8")
        except (UnicodeDecodeError, LookupError):
            continue
        except Exception:  # exotic codecs can fail in odd ways
            continue
    detected = _detect(data)
    if detected is not None:
        return detected, False
    try:
        return data.decode("cp1252"), False
    except UnicodeDecodeError:
        return data.decode("latin-1"), False


def _detect(data: bytes) -> str | None:
    if len(data) < 8:
        return None
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
    except Exception:  # the detector must never take the message down
        return None
    return str(best) if best is not None else None


def _to_bytes(value: str) -> bytes:
    """Undo the parser's surrogateescape so 8-bit header/body bytes can be re-decoded."""
    try:
        return value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace")


def _fix_8bit(value: str) -> str:
    if value.isascii():
        return value
    if _SURROGATES.search(value):
        text, _ = decode_bytes(_to_bytes(value))
        return text
    return value


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            payload = re.sub(r"[^A-Za-z0-9+/]", "", payload)
            payload = payload[: len(payload) - len(payload) % 4] if len(payload) % 4 == 1 else (
                payload + "=" * (-len(payload) % 4))
            return base64.b64decode(payload)
        return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"),
                                   header=False)
    except (binascii.Error, ValueError):
        return None


def _decode_words(value: str) -> str:
    """RFC 2047 words; adjacent words in one charset are joined as bytes first, so a
    character split across two words (common from some mailers) decodes whole."""
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset)[0])
        pending, pending_charset = [], None

    for m in _ENCODED_WORD.finditer(value):
        between = value[pos:m.start()]
        data = _word_bytes(m.group(2), m.group(3))
        charset = m.group(1).lower()
        if between and not (pending and between.isspace()):
            flush()
            out.append(between)
        if data is None:
            flush()
            out.append(m.group(0))
        else:
            if pending and charset != pending_charset:
                flush()
            pending.append(data)
            pending_charset = charset
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def decode_header_value(value: str) -> str:
    """Unfold, fix 8-bit bytes and decode RFC 2047 encoded words; never raises."""
    try:
        value = _fix_8bit(str(value)[:_MAX_HEADER_CHARS])
        value = _HEADER_CONTROL.sub(" ", value.replace("\r\n", "").replace("\n", ""))
        if "=?" in value:
            value = _HEADER_CONTROL.sub(" ", _decode_words(value))
        return _clean(value.strip())
    except Exception:  # a header must never take the message down with it
        return _clean(re.sub(r"[^\x20-\x7e]", "?", str(value)))


# ----------------------------------------------------------------------- subject handling

_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|fw|fwd|wg|tr|rv|res|ref|antw|antwort|odp|ynt|enc|vá|vl|"
    r"r|i|fs|rif|doorst)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]|\[[^\[\]]{0,80}\]|\(#\s*\d+\)|#\d+\s*[:-])\s*",
    re.IGNORECASE,
)
_SUBJECT_SUFFIX_TAG = re.compile(
    r"\s*(?:\[[^\[\]]{0,80}\]|\(#\s*\d+\)|#\d{3,})\s*$", re.IGNORECASE)


def strip_subject_prefixes(subject: str) -> str:
    """Strip reply/forward prefixes (Re:, AW:, SV:, Fwd:, WG:, TR: ...) and ticket tags.

    >>> strip_subject_prefixes("RE: AW: [acme.test #42] Re: Where is my order? [#123]")
    'Where is my order?'
    """
    text = " ".join((subject or "").split())
    for _ in range(20):
        stripped = _SUBJECT_PREFIX.sub("", text, count=1)
        stripped = _SUBJECT_SUFFIX_TAG.sub("", stripped, count=1)
        if stripped == text:
            break
        text = stripped
    return text.strip()


# --------------------------------------------------------------------------- html to text


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
                        "table", "ul", "ol", "blockquote", "hr", "section", "article", "pre",
                        "header", "footer", "td", "th", "title"})
    _SKIP = frozenset({"script", "style", "head", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.skip_depth = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip_depth += 1
        elif tag == "blockquote":
            self.quote_depth += 1
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_depth or self.size > MAX_TEXT_CHARS * 2:
            return
        if self.quote_depth:
            # Keep blockquoted (quoted reply) text recognisable as a quote, like plain text.
            data = "\n".join("> " + line for line in data.splitlines() if line.strip())
        self.parts.append(data)
        self.size += len(data)


def html_to_text(html: str) -> str:
    """Readable text from HTML: drops scripts/styles, keeps line structure and quotes."""
    html = html[:_MAX_HTML_CHARS]
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:
        text = unescape(re.sub(r"<[^>]*>", " ", html))
    lines = (" ".join(line.split()) for line in text.replace("\xa0", " ").splitlines())
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# -------------------------------------------------------------------------- MIME helpers


def _content_type(part: Message) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        raw = str(part.get("content-type", "") or "")
        ctype = raw.split(";", 1)[0].strip().lower() or "text/plain"
    return str(ctype).lower()


def _param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        try:
            value = email.utils.collapse_rfc2231_value(value)
        except Exception:
            value = value[2]
    return str(value) if value is not None else None


def _is_attachment(part: Message) -> bool:
    try:
        disposition = str(part.get("content-disposition", "") or "").lower()
    except Exception:
        return False
    return disposition.strip().startswith("attachment")


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return []


def _raw_payload(part: Message) -> str | bytes:
    # Message._payload is the undecoded text with 8-bit bytes as surrogates; get_payload()
    # would already have decoded those with the declared charset and 'replace'.
    payload = getattr(part, "_payload", None)
    if isinstance(payload, (str, bytes)):
        return payload
    try:
        payload = part.get_payload()
    except Exception:
        return ""
    if isinstance(payload, (str, bytes)):
        return payload
    return ""


def decoded_payload(part: Message, defects: list[str], limit: int = _MAX_PAYLOAD_CHARS) -> bytes:
    """Transfer-decode at most `limit` characters of a leaf part's payload."""
    payload = _raw_payload(part)
    if isinstance(payload, bytes):
        return payload[:limit]
    chunk = payload[:limit]
    try:
        cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
    except Exception:
        cte = ""
    data = _to_bytes(chunk)
    if cte == "base64":
        alphabet = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        if len(alphabet) % 4 == 1:  # a stray character: drop it rather than fail
            alphabet = alphabet[:-1]
        alphabet += b"=" * (-len(alphabet) % 4)
        try:
            return base64.b64decode(alphabet)
        except (binascii.Error, ValueError):
            defects.append("undecodable base64 body")
            return b""
    if cte == "quoted-printable":
        try:
            return quopri.decodestring(data)
        except (binascii.Error, ValueError):
            defects.append("undecodable quoted-printable body")
            return data
    if cte in ("x-uuencode", "uuencode", "x-uue"):
        try:
            decoded = part.get_payload(decode=True)
            return decoded[:limit] if isinstance(decoded, bytes) else b""
        except Exception:
            defects.append("undecodable uuencoded body")
            return b""
    return data


def _part_text(part: Message, defects: list[str]) -> str:
    data = decoded_payload(part, defects)
    text, clean = decode_bytes(data, _param(part, "charset"))
    if not clean and data:
        defects.append(f"body charset fallback ({_param(part, 'charset') or 'none declared'})")
    return text


def _leaves(root: Message) -> list[tuple[Message, int]]:
    """Leaf parts in document order, not descending into attached messages."""
    out: list[tuple[Message, int]] = []
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack and len(out) < _MAX_PARTS:
        part, depth = stack.pop()
        ctype = _content_type(part)
        if ctype.startswith("multipart/") and depth < _MAX_DEPTH:
            stack.extend((child, depth + 1) for child in reversed(_children(part)))
        elif not ctype.startswith("multipart/"):
            out.append((part, depth))
    return out


def _best_text(root: Message, defects: list[str]) -> tuple[str, bool]:
    plain: Message | None = None
    html: Message | None = None
    for part, _ in _leaves(root):
        ctype = _content_type(part)
        if _is_attachment(part):
            continue
        if ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and html is None:
            html = part
        if plain is not None and html is not None:
            break
    if plain is not None:
        text = _part_text(plain, defects)
        if text.strip() or html is None:
            return text, False
    if html is not None:
        return html_to_text(_part_text(html, defects)), True
    # Nothing labelled text: a bare body with a bogus content type is still worth reading.
    if not _children(root) and _content_type(root).split("/", 1)[0] in ("text", "application"):
        payload = _raw_payload(root)
        if payload and _content_type(root) not in ("application/octet-stream",):
            return _part_text(root, defects), False
    return "", False


def _normalise_text(text: str) -> str:
    text = _clean(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _TEXT_CONTROL.sub("", text)
    return text[:MAX_TEXT_CHARS]


# ----------------------------------------------------------------------- header helpers


def _msgids(value: str) -> tuple[str, ...]:
    ids = _MSGID.findall(value)
    if not ids and "@" in value:
        ids = _BARE_MSGID.findall(value)
    seen: dict[str, None] = {}
    for mid in ids:
        mid = mid.strip().strip("<>")
        if mid:
            seen.setdefault(mid, None)
    return tuple(seen)


def _addresses(raw_values: list[str]) -> list[tuple[str | None, str]]:
    """(display name, lower-cased addr-spec) pairs; RFC 2047 decoded after splitting."""
    out: list[tuple[str | None, str]] = []
    for raw in raw_values[:50]:
        value = _HEADER_CONTROL.sub(" ", _fix_8bit(raw[:_MAX_ADDRESS_CHARS]))
        try:
            pairs = getaddresses([value])[:_MAX_ADDRESSES]
        except Exception:
            pairs = [("", a) for a in _ADDR_IN_TEXT.findall(value)]
        if pairs and not any("@" in addr for _, addr in pairs):
            # "Shop Name shop@x.example" without brackets, or worse: salvage a lone address
            found = _ADDR_IN_TEXT.findall(decode_header_value(value))
            pairs = [("", found[0])] if len(found) == 1 else []
        for name, addr in pairs:
            addr = _clean(addr).strip().strip("<>").lower()
            if "@" not in addr:
                continue
            name = decode_header_value(name).strip().strip('"').strip() if name else ""
            out.append((name or None, addr))
    return out


def _to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not 1970 <= value.year <= 2200:
        return None
    return value


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as aware UTC, or None if missing or invalid."""
    if not value:
        return None
    try:
        return _to_utc(parsedate_to_datetime(value.strip()))
    except Exception:
        return None


def received_time(value: str | None) -> datetime | None:
    """The timestamp of one Received header: the text after its last ';'."""
    if not value or ";" not in value:
        return None
    return parse_date(value.rsplit(";", 1)[1])


# ------------------------------------------------------------------------------ DSN


def _reports(root: Message) -> list[tuple[Message, int]]:
    """Every multipart/report in the tree (the root included), not inside attached messages'
    own reports deeper than _MAX_DEPTH."""
    found: list[tuple[Message, int]] = []
    stack: list[tuple[Message, int]] = [(root, 0)]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        ctype = _content_type(part)
        if ctype == "multipart/report":
            found.append((part, depth))
        if depth < _MAX_DEPTH and (ctype.startswith("multipart/") or ctype.startswith(
                ("message/rfc822", "message/global"))):
            stack.extend((child, depth + 1) for child in reversed(_children(part)))
    return found


def _dsn_details(root: Message, defects: list[str]) -> tuple[str | None, str | None, list[str]]:
    original_id: str | None = None
    recipient: str | None = None
    actions: list[str] = []
    for part in _children(root):
        ctype = _content_type(part)
        try:
            if ctype in ("message/delivery-status", "message/global-delivery-status"):
                blocks = _children(part)
                if not blocks:  # some parsers leave it as text: parse the fields ourselves
                    text = _part_text(part, defects)
                    blocks = [email.message_from_string(b.strip() + "\n\n",
                                                        policy=email.policy.compat32)
                              for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
                              if b.strip()]
                for block in blocks:
                    action = decode_header_value(str(block.get("action", "") or "")).lower()
                    if action:
                        actions.append(action)
                    final = str(block.get("final-recipient") or block.get("original-recipient")
                                or "")
                    found = _ADDR_IN_TEXT.findall(decode_header_value(final))
                    if found and (recipient is None or action.startswith("fail")):
                        recipient = found[0].lower()
            elif ctype in ("message/rfc822", "message/global") or ctype.startswith(
                    "message/rfc822"):
                inner = _children(part)
                if inner and original_id is None:
                    ids = _msgids(decode_header_value(str(inner[0].get("message-id", "") or "")))
                    original_id = ids[0] if ids else None
            elif ctype in ("text/rfc822-headers", "message/global-headers") and (
                    original_id is None):
                text = _part_text(part, defects)
                headers = email.message_from_string(
                    text.replace("\r\n", "\n").split("\n\n", 1)[0] + "\n\n",
                    policy=email.policy.compat32)
                ids = _msgids(decode_header_value(str(headers.get("message-id", "") or "")))
                original_id = ids[0] if ids else None
        except Exception as exc:
            defects.append(f"unreadable DSN part {ctype}: {type(exc).__name__}")
    return original_id, recipient, actions


def _quiet_flufl() -> None:
    # flufl.bounce logs a traceback for every detector that trips over a header it did not
    # expect (then carries on): that is noise for us, never an error to show a user.
    import logging

    logger = logging.getLogger("flufl.bounce")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _flufl_bounce(msg: Message, defects: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """GNU Mailman's bounce detectors: (temporary, permanent) failing addresses."""
    try:
        from flufl.bounce import all_failures

        _quiet_flufl()
        temporary, permanent = all_failures(msg)
    except Exception as exc:  # a detector choking on odd mail is not our message's fault
        defects.append(f"bounce detection failed ({type(exc).__name__})")
        return (), ()

    def norm(values) -> tuple[str, ...]:
        out = []
        for v in list(values)[:20]:
            text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            out.append(_clean(text).strip().lower()[:300])
        return tuple(sorted(set(out)))

    return norm(temporary), norm(permanent)


_BODY_MSGID = re.compile(r"^\s*Message-ID:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_BODY_RECIPIENT = re.compile(
    r"(?:final-recipient:\s*rfc822;\s*|failed recipient[s]?:?\s*|"
    r"could not be delivered to:?\s*|<)([\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}"
    r"(?:\.[\w-]{1,63}){1,8})",
    re.IGNORECASE)


# ------------------------------------------------------------------------------ main


def _parse_message(raw: bytes, policy: email.policy.Policy) -> Message:
    return BytesParser(policy=policy).parsebytes(raw)


def parse_email(raw: bytes, *, detect_bounces: bool = True) -> ParsedEmail:
    """Parse raw RFC 5322 bytes. Never raises, whatever the input.

    detect_bounces=False skips flufl.bounce's detectors (for header-only triage, where a
    delivery report cannot be seen anyway and every millisecond counts per message).
    """
    defects: list[str] = []
    try:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = bytes(raw)
    except Exception:
        raw = b""
        defects.append("input was not bytes")
    size = len(raw)
    data = raw
    if size > MAX_PARSE_BYTES:
        data = raw[:MAX_PARSE_BYTES]
        defects.append(f"only the first {MAX_PARSE_BYTES} of {size} bytes parsed")
    if not raw.strip():
        defects.append("empty input")
    # compat32 on purpose: policy.default parses Content-Type with the structured header
    # parser while feeding, which takes minutes on a hostile 100 kB header (measured: 567 s
    # for 100k '"' characters). We decode every header ourselves anyway.
    for policy in (email.policy.compat32, email.policy.default):
        try:
            msg = _parse_message(data, policy)
            return _extract(msg, size, list(defects), detect_bounces)
        except Exception as exc:  # try the next policy; then give up gracefully
            defects.append(f"parser failure with {type(policy).__name__} "
                           f"({type(exc).__name__})")
    return _empty(size, defects)


def _empty(size: int, defects: list[str]) -> ParsedEmail:
    return ParsedEmail(
        message_id=None, in_reply_to=(), references=(), subject="", from_addr=None,
        from_name=None, to=(), cc=(), delivered_to=(), date=None, received_at=None, headers={},
        text="", content_type="text/plain", is_dsn=False, dsn_original_message_id=None,
        dsn_failed_recipient=None, size=size, defects=tuple(defects))


def _extract(msg: Message, size: int, defects: list[str],
             detect_bounces: bool = True) -> ParsedEmail:
    raw_headers: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    try:
        items = list(msg.raw_items()) if hasattr(msg, "raw_items") else list(msg._headers)
    except Exception:
        items = []
        defects.append("unreadable header block")
    for name, value in items[:1000]:
        try:
            key = decode_header_value(str(name)).lower()
            raw_value = value if isinstance(value, str) else str(value)
        except Exception:
            defects.append("unreadable header")
            continue
        if not key:
            continue
        raw_headers.setdefault(key, []).append(raw_value)
        headers.setdefault(key, []).append(decode_header_value(raw_value))
    if not items:
        defects.append("no headers")

    def first(name: str) -> str | None:
        values = headers.get(name)
        return values[0] if values else None

    from_pairs = _addresses(raw_headers.get("from", [])[:1])
    from_name, from_addr = from_pairs[0] if from_pairs else (None, None)
    if raw_headers.get("from") and not from_pairs:
        defects.append("unparseable From header")

    message_ids = _msgids(first("message-id") or "")
    date_value = first("date")
    date = parse_date(date_value)
    if date_value and date is None:
        defects.append("invalid Date header")
    received = headers.get("received", [])
    received_at = received_time(received[0]) if received else None

    return_path: str | None = None
    if "return-path" in headers:
        rp = first("return-path") or ""
        found = _ADDR_IN_TEXT.findall(rp)
        return_path = found[0].lower() if found else ""

    content_type = _content_type(msg)
    reports = _reports(msg)
    report, report_depth = reports[0] if reports else (msg, 0)
    report_type = (_param(report, "report-type") or "").lower() or None if reports else None
    is_dsn = bool(reports) and report_type in (None, "delivery-status")

    try:
        text, from_html = _best_text(msg, defects)
    except Exception as exc:
        text, from_html = "", False
        defects.append(f"unreadable body ({type(exc).__name__})")
    text = _normalise_text(text)

    dsn_id: str | None = None
    dsn_rcpt: str | None = None
    actions: list[str] = []
    if reports:
        dsn_id, dsn_rcpt, actions = _dsn_details(report, defects)
    # flufl's detectors scan every line; real bounces are small (a returned attachment makes
    # them big, but then the delivery report above already says so)
    plausible = detect_bounces and size <= _FLUFL_MAX_BYTES and all(
        len(v) <= 4000 for values in raw_headers.values() for v in values)
    temporary, permanent = _flufl_bounce(msg, defects) if plausible else ((), ())
    from_local = (from_addr or "").split("@", 1)[0]
    if is_dsn or from_local in ("mailer-daemon", "postmaster"):
        if dsn_id is None:
            found_ids = _BODY_MSGID.findall(text)
            dsn_id = found_ids[0] if found_ids else None
        if dsn_rcpt is None:
            failed = headers.get("x-failed-recipients")
            found = _ADDR_IN_TEXT.findall(failed[0]) if failed else _BODY_RECIPIENT.findall(text)
            dsn_rcpt = found[0].lower() if found else None

    try:
        parser_defects = [type(d).__name__ for d in getattr(msg, "defects", [])][:20]
    except Exception:
        parser_defects = []
    defects.extend(parser_defects)

    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_msgids(" ".join(headers.get("in-reply-to", []))),
        references=_msgids(" ".join(headers.get("references", []))),
        subject=first("subject") or "",
        from_addr=from_addr,
        from_name=from_name,
        to=tuple(a for _, a in _addresses(raw_headers.get("to", []))),
        cc=tuple(a for _, a in _addresses(raw_headers.get("cc", []))),
        delivered_to=tuple(a for _, a in _addresses(
            raw_headers.get("delivered-to", []) + raw_headers.get("x-original-to", []))),
        date=date,
        received_at=received_at,
        headers={k: tuple(v) for k, v in headers.items()},
        text=text,
        content_type=content_type,
        is_dsn=is_dsn,
        dsn_original_message_id=dsn_id,
        dsn_failed_recipient=dsn_rcpt,
        size=size,
        defects=tuple(dict.fromkeys(_clean(d) for d in defects)),
        reply_to=tuple(a for _, a in _addresses(raw_headers.get("reply-to", []))),
        return_path=return_path,
        report_type=report_type,
        dsn_actions=tuple(actions),
        text_from_html=from_html,
        bounce_permanent=permanent,
        bounce_temporary=temporary,
        dsn_nested=bool(reports) and report_depth > 0,
    )


__all__ = ["MAX_TEXT_CHARS", "ParsedEmail", "decode_bytes", "decode_header_value",
           "html_to_text", "parse_date", "parse_email", "received_time",
           "strip_subject_prefixes"]
