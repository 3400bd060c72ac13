"""Text from files and URLs made safe to show and to keep.

Small functions, each the one place for its rule:

* :func:`escape_controls`: text read from a file (a patient's name, a series description, a
  file name inside a zip) may hold control characters. Printed as they are, ESC starts a
  terminal escape sequence (colours, cursor moves, a changed window title, on some terminals
  worse), CR overwrites the line, LF forges a new one. Every printer of ownscan's command line
  passes such text through this function; formatters (column widths, name display) compose
  with it.
* :func:`escape_html`: the same text for an HTML page (the SR report page, ``ownscan report
  --html``): control characters escaped as above (a right-to-left override would reorder what
  is read), then markup escaped.
* :func:`redact_url`: a URL may carry a user name and password (``user:pass@host``) or a
  token in its query (``?access_token=...``). Nothing secret is written into the library
  (the imports' sources, the instances' origins) or to a log: the library applies this
  function to everything it records.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["escape_controls", "escape_html", "redact_url"]

# C0 controls, DEL, C1 controls, and the Unicode characters that reorder or break a line on a
# terminal (bidirectional overrides and isolates, line and paragraph separators)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(m: re.Match[str]) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``,
    ``\\u202e``), so that it prints as one inert line.

    Printable text (letters of every script, accents, the DICOM value separator ``\\``) is
    unchanged, so ordinary names look exactly as before.

    Parameters
    ----------
    text
        Text that came from a file, an archive or a server.

    Returns
    -------
    str
        The same text, safe to print on a terminal.
    """
    if _CONTROL.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return _CONTROL.sub(_escaped, text)


def escape_html(text: str) -> str:
    """``text`` from a file as HTML text: :func:`escape_controls`, then ``html.escape``."""
    return html.escape(escape_controls(text))


# query parameters whose value is a secret (OAuth tokens, signed URLs, API keys, passwords)
_SECRET_PARAM = re.compile(
    r"(token|key|pass|pwd|secret|sig|signature|auth|credential|session|sid|code|jwt)",
    re.IGNORECASE,
)
REDACTED = "REDACTED"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_url(text: str) -> str:
    """``text`` with the secrets of every URL in it replaced by ``REDACTED``: the user name
    and password (``https://REDACTED@host/...``) and the values of query parameters that look
    secret (``access_token``, ``api_key``, ``X-Amz-Signature``, ``password``...). Text without
    a URL is returned unchanged; so is a URL without secrets.

    Parameters
    ----------
    text
        A source as the user gave it, an origin an importer reported, a message or log line.

    Returns
    -------
    str
        Text that can be stored and logged.
    """
    if "://" not in text:  # the common case: a path
        return text
    return _URL.sub(lambda m: _redact_one(m.group(0)), text)


def _redact_one(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (an invalid IPv6 host, say)
        return url
    netloc = parts.netloc
    if not parts.scheme or not netloc:
        return url
    if "@" in netloc:
        netloc = f"{REDACTED}@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="/:"
            )
    fragment = parts.fragment
    if fragment and _SECRET_PARAM.search(fragment):  # implicit-grant tokens ride in #fragments
        fragment = REDACTED
    if netloc == parts.netloc and query == parts.query and fragment == parts.fragment:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
