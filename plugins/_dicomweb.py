"""DICOMweb transport for the ``dicomweb`` importer and ``ownscan search``.

What this module owns, and why it is separate from the importer:

* **Credentials** (:class:`Credentials`): HTTP basic from ``OWNSCAN_DICOMWEB_USER`` /
  ``OWNSCAN_DICOMWEB_PASSWORD``, a bearer token from ``OWNSCAN_DICOMWEB_TOKEN``, or a prompt
  when a terminal is attached. The secret lives only in the requests session; the object's
  ``repr`` never shows it and no message built here contains it. URLs with ``user:pass@`` are
  refused, because the URL becomes the ``origin`` of every imported instance.
* **Sessions** (:class:`Connection`): one :class:`requests.Session` per thread (WADO-RS runs in
  a thread pool), TLS verification on unless the caller asked for ``insecure``.
* **QIDO-RS** as plain GETs on the same session (query strings, pages with ``limit`` and
  ``offset``, DICOM JSON), each answer read under the same bounds as a retrieval and checked
  to be a list of DICOM JSON objects; results are deduplicated by their UID.
* **Bounds on every answer** (:meth:`Connection._body`): a size cap (``max_answer_bytes`` for
  QIDO, ``max_instance_bytes`` for an instance), an overall ``deadline`` per request and a
  slow-transfer floor (``min_rate`` bytes/s, after ``timeout`` seconds): a server that drips a
  byte at a time, or never ends, fails that request in one line instead of hanging.
* **WADO-RS** of one instance as raw bytes: ``Accept: multipart/related;
  type="application/dicom"; transfer-syntax=*`` so the server sends the stored file without
  transcoding. The retrieve is a plain GET on the same session (a DICOMweb client library
  parses what it retrieves into pydicom datasets, and re-encoding would change the bytes) and
  the multipart body is split here (:func:`split_multipart`).
* **Retries** with exponential backoff on connection errors, time-outs, truncated bodies and
  HTTP 408/429/5xx; errors that retrying cannot fix (401, 403, 404, TLS) are not retried.
"""

from __future__ import annotations

import email.utils
import functools
import getpass
import io
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ownscan.core.errors import ImportFailed, OwnscanError, UsageError
from ownscan.core.files import PartFile

if TYPE_CHECKING:
    # requests is imported where it is used: every ownscan command loads this plugin at start-up
    # (through the plugin host), and importing requests costs ~50 ms that only DICOMweb needs.
    import requests

__all__ = [
    "ACCEPT_DICOM_ANY_SYNTAX",
    "ENV_PASSWORD",
    "ENV_TOKEN",
    "ENV_USER",
    "Connection",
    "Credentials",
    "DicomwebError",
    "MultipartError",
    "MultipartReader",
    "RequestFailed",
    "ServerUnreachable",
    "check_url",
    "split_multipart",
]

log = logging.getLogger(__name__)

ENV_USER = "OWNSCAN_DICOMWEB_USER"
ENV_PASSWORD = "OWNSCAN_DICOMWEB_PASSWORD"
ENV_TOKEN = "OWNSCAN_DICOMWEB_TOKEN"

#: Ask for the stored file as it is: any transfer syntax, no transcoding (PS3.18 8.7.3.5.2).
ACCEPT_DICOM_ANY_SYNTAX = 'multipart/related; type="application/dicom"; transfer-syntax=*'

#: Results per QIDO-RS request (the ``limit``); more pages are asked for with ``offset``.
QIDO_PAGE = 1000
#: Results one QIDO-RS search may return, all pages together (distinct UIDs).
QIDO_MAX_RESULTS = 100_000
#: Default bounds on one answer (see :class:`Connection`).
MAX_ANSWER_BYTES = 64 << 20
MAX_INSTANCE_BYTES = 1 << 30
DEADLINE = 1800.0
MIN_RATE = 1024.0
_READ = 1 << 16
# the UID that identifies a QIDO-RS result, per level (deduplication)
_QIDO_KEY = {1: "0020000D", 3: "0020000E", 5: "00080018"}

_names = itertools.count()  # names of retrieved files, unique in this process
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")

T = TypeVar("T")


class DicomwebError(ImportFailed):
    """A DICOMweb source could not be searched or retrieved (message names URL and reason)."""


class RequestFailed(DicomwebError):
    """One request failed for good: HTTP 4xx (not auth), or an answer that is not DICOM."""

    def __init__(self, source: str, reason: str, status: int | None = None) -> None:
        super().__init__(source, reason)
        self.status = status


class ServerUnreachable(DicomwebError):
    """The server stopped answering (connection refused or reset, time-outs) after retries."""


class _Retryable(Exception):
    """A response that a later attempt may fix (truncated body, HTTP 5xx)."""

    def __init__(
        self, reason: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


def check_url(url: str) -> str:
    """Validate a DICOMweb root URL and return it without a trailing slash.

    Raises
    ------
    DicomwebError
        Not http(s), no host, or credentials embedded in the URL (they would end up in the
        library as the origin of every instance).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DicomwebError(url, "not an http:// or https:// URL of a DICOMweb server")
    if parts.username is not None or parts.password is not None:
        safe = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
        raise DicomwebError(
            safe.geturl(),
            "the URL contains credentials; remove them and set "
            f"{ENV_USER} and {ENV_PASSWORD} (or {ENV_TOKEN}) instead",
        )
    if parts.query or parts.fragment:
        raise DicomwebError(url, "give the DICOMweb root without ?query or #fragment")
    return url.rstrip("/")


def _is_loopback(url: str) -> bool:
    import ipaddress

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_uid(uid: str, what: str) -> str:
    """Return ``uid`` if it is a syntactically valid DICOM UID, else raise UsageError."""
    if len(uid) > 64 or not _UID.match(uid):
        raise UsageError(f"{what} {uid!r} is not a DICOM UID (digits and dots, at most 64)")
    return uid


class Credentials:
    """How to authenticate: nothing, HTTP basic, or a bearer token.

    The secret is kept in a private attribute and never appears in ``repr`` or messages;
    ``source`` says where it came from (for messages such as "the server rejected the
    credentials from OWNSCAN_DICOMWEB_USER/OWNSCAN_DICOMWEB_PASSWORD").
    """

    def __init__(
        self,
        kind: str = "none",
        user: str | None = None,
        secret: str | None = None,
        source: str = "",
    ) -> None:
        if kind not in ("none", "basic", "bearer"):
            raise UsageError(f"unknown credentials kind {kind!r}; valid: none, basic, bearer")
        self.kind = kind
        self.user = user
        self._secret = secret
        self.source = source

    def __repr__(self) -> str:
        return f"Credentials(kind={self.kind!r}, source={self.source!r})"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Credentials from ``OWNSCAN_DICOMWEB_TOKEN`` or ``..._USER`` + ``..._PASSWORD``.

        A user without a password is completed by a prompt when a terminal is attached, and is
        an error otherwise. No variables: no credentials (the server may not need any; on
        HTTP 401 the caller may :meth:`prompt`).
        """
        env = os.environ if environ is None else environ
        token = env.get(ENV_TOKEN)
        if token:
            return cls("bearer", secret=token, source=ENV_TOKEN)
        user = env.get(ENV_USER)
        password = env.get(ENV_PASSWORD)
        if user and password is not None:
            return cls("basic", user, password, source=f"{ENV_USER}/{ENV_PASSWORD}")
        if user:
            if _interactive():
                pw = getpass.getpass(f"DICOMweb password for {user}: ")
                return cls("basic", user, pw, source="the password prompt")
            raise UsageError(f"{ENV_USER} is set but {ENV_PASSWORD} is not (and no terminal)")
        if password is not None:
            raise UsageError(f"{ENV_PASSWORD} is set but {ENV_USER} is not")
        return cls()

    @classmethod
    def prompt(cls, url: str) -> Credentials:
        """Ask for a user name and password on the terminal (the password is not echoed)."""
        # prompts on stderr: stdout may be redirected (ownscan search --json > studies.json)
        print(f"{url} asks for a user name and password.", file=sys.stderr)
        print("DICOMweb user: ", end="", file=sys.stderr, flush=True)
        user = sys.stdin.readline().strip()
        password = getpass.getpass("DICOMweb password: ")
        return cls("basic", user, password, source="the password prompt")

    def apply(self, session: requests.Session) -> None:
        """Configure ``session`` to send these credentials."""
        if self.kind == "basic":
            session.auth = (self.user or "", self._secret or "")
        elif self.kind == "bearer":
            session.headers["Authorization"] = f"Bearer {self._secret}"


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Connection:
    """A DICOMweb server: per-thread sessions, QIDO-RS searches and WADO-RS retrieval.

    Parameters
    ----------
    url
        The DICOMweb root (the URL that ``/studies`` is appended to).
    credentials
        From :meth:`Credentials.from_environment` by default.
    insecure
        Turn TLS certificate verification off (explicit ``--insecure`` only).
    timeout
        Seconds to connect and to wait for data.
    retries
        Further attempts after a failure that a retry may fix.
    backoff
        First wait in seconds; doubled after each failed attempt (capped at 30 s).
    prompt
        Ask for credentials on a terminal when the server answers 401 and none were given.
    compress
        Accept gzip/deflate answers. None (default): only when the server is not on this
        machine. Servers such as Orthanc then compress every instance on the fly: 6x fewer
        bytes for an uncompressed MR (worth it on a home connection), but on loopback it made
        retrieval about 8x slower than without.
    deadline
        Seconds one request may take, its whole answer included (not retried when reached).
    min_rate
        Bytes per second an answer must average once ``timeout`` seconds have passed.
    max_instance_bytes, max_answer_bytes
        The largest instance and the largest QIDO-RS answer (decoded bytes) accepted.
    """

    def __init__(
        self,
        url: str,
        credentials: Credentials | None = None,
        *,
        insecure: bool = False,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        prompt: bool = True,
        compress: bool | None = None,
        deadline: float = DEADLINE,
        min_rate: float = MIN_RATE,
        max_instance_bytes: int = MAX_INSTANCE_BYTES,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.url = check_url(url)
        self.deadline = deadline
        self.min_rate = min_rate
        self.max_instance_bytes = max_instance_bytes
        self.max_answer_bytes = max_answer_bytes
        self.compress = not _is_loopback(self.url) if compress is None else compress
        self.credentials = credentials if credentials is not None else Credentials()
        self.insecure = insecure
        self.timeout = (min(10.0, timeout), timeout)
        self.retries = retries
        self.backoff = backoff
        self.prompt = prompt
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped when credentials change (after a prompt)
        self._aborted = threading.Event()
        self.answered = False  # any request answered yet ("stopped answering" vs "cannot reach")
        if insecure:
            import urllib3

            # One visible warning here instead of urllib3's warning on every request.
            log.warning("TLS certificate verification is OFF for %s (--insecure)", self.url)
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)

    def abort(self) -> None:
        """Make requests that are retrying give up at their next attempt (the import has
        already failed; waiting for each of them to exhaust its retries helps nobody)."""
        self._aborted.set()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    # -- sessions --------------------------------------------------------------------------
    def session(self) -> requests.Session:
        """This thread's session (requests sessions are not shared across threads)."""
        import requests

        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None or getattr(self._local, "generation", -1) != self._generation:
            s = requests.Session()
            s.verify = not self.insecure
            if self.insecure:
                # requests would let REQUESTS_CA_BUNDLE override verify=False per request;
                # keep the environment's proxies, drop the rest of it.
                s.trust_env = False
                s.proxies.update(requests.utils.get_environ_proxies(self.url))
            s.headers["User-Agent"] = "ownscan-dicomweb"
            if not self.compress:
                s.headers["Accept-Encoding"] = "identity"
            self.credentials.apply(s)
            self._local.session = s
            self._local.generation = self._generation
            with self._lock:
                self._sessions.append(s)
        return s

    def close(self) -> None:
        """Close every session this connection opened."""
        with self._lock:
            for s in self._sessions:
                s.close()
            self._sessions.clear()
        self._local = threading.local()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- QIDO-RS ---------------------------------------------------------------------------
    def qido(
        self,
        path: str,
        filters: Mapping[str, str] | None = None,
        fields: tuple[str, ...] = (),
        page_size: int = QIDO_PAGE,
    ) -> list[dict[str, Any]]:
        """A QIDO-RS search, all pages; returns the DICOM JSON results.

        Parameters
        ----------
        path
            ``studies``, ``studies/UID/series`` or ``studies/UID/series/UID/instances``.
        filters
            Attribute keyword -> value (QIDO matching).
        fields
            Extra attributes to include (``includefield``).
        page_size
            ``limit`` per request. Paging stops at a short page, or when the server ignores
            ``offset`` (a page that repeats the first result), which would otherwise loop
            for ever.
        """
        parts = path.split("/")
        if not (
            parts == ["studies"]
            or (len(parts) == 3 and parts[0] == "studies" and parts[2] == "series")
            or (len(parts) == 5 and parts[2] == "series" and parts[4] == "instances")
        ):
            raise ValueError(f"not a QIDO-RS path: {path}")
        key = _QIDO_KEY[len(parts)]

        def page(offset: int) -> list[dict[str, Any]]:
            params: list[tuple[str, str]] = [(k, v) for k, v in (filters or {}).items()]
            params += [("includefield", f) for f in fields]
            params.append(("limit", str(page_size)))
            if offset:
                params.append(("offset", str(offset)))
            _, body = self._body(
                self._where(path),
                params,
                "application/dicom+json",
                self.max_answer_bytes,
                "max_answer_bytes",
            )
            return parse_qido(body)

        results: dict[str, dict[str, Any]] = {}
        asked = 0
        while True:
            try:
                this_page = functools.partial(page, asked)
                got = self._with_auth(
                    lambda: _retrying(this_page, self._where(path), self)  # noqa: B023
                )
            except RequestFailed as exc:
                if len(parts) == 1 and exc.status is not None and 400 <= exc.status < 500:
                    raise DicomwebError(
                        self.url,
                        f"{exc.reason} for /studies: is this the DICOMweb root? check the URL",
                    ) from None
                raise
            asked += len(got)
            new = 0
            for n, d in enumerate(got):
                uid = _uid_of(d, key) or f"(no UID) {asked}-{n}"
                if uid not in results:
                    results[uid] = d
                    new += 1
            if len(results) > QIDO_MAX_RESULTS:
                raise DicomwebError(
                    self._where(path), f"more than {QIDO_MAX_RESULTS:,} results for one search"
                )
            if new < len(got):
                log.warning(
                    "%s: the server listed %d result(s) twice; each is used once",
                    path,
                    len(got) - new,
                )
            if got and not new:  # a page of repeats: the server ignores offset (or loops)
                log.warning("%s: the server ignores QIDO offset; using what it sent once", path)
                break
            if len(got) != page_size:
                break
        return list(results.values())

    # -- bounded answers -------------------------------------------------------------------
    def _body(
        self, url: str, params: Any, accept: str, cap: int, cap_name: str
    ) -> tuple[str, bytes]:
        """GET ``url`` and its whole answer in memory, under the bounds of :meth:`_stream`.
        Returns the Content-Type and the body."""
        # BytesIO: getvalue() hands over its buffer without a copy
        body = io.BytesIO()
        ctype = self._stream(url, params, accept, cap, cap_name, lambda _ctype: body.write)
        return ctype, body.getvalue()

    def _stream(
        self,
        url: str,
        params: Any,
        accept: str,
        cap: int,
        cap_name: str,
        start: Callable[[str], Callable[[bytes], object]],
    ) -> str:
        """GET ``url`` and hand its (decoded) answer, piece by piece as it arrives, to the
        function that ``start(content_type)`` returns; returns the Content-Type.

        The bounds: at most ``cap`` bytes, within :attr:`deadline`, at :attr:`min_rate` or
        faster once the connect/read ``timeout`` has passed. Reads with ``read1`` (what one
        network read brings), so the checks run as data arrives, however slowly it comes;
        nothing is held here beyond one read."""
        import requests
        import urllib3.exceptions

        started = time.monotonic()
        resp = self.session().get(
            url, params=params, headers={"Accept": accept}, timeout=self.timeout, stream=True
        )
        try:
            _raise_for_status(resp)
            declared = resp.headers.get("Content-Length", "")
            encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
            if declared.isdigit() and int(declared) > cap and not encoded:
                raise _Failed(_too_big(int(declared), cap, cap_name))
            ctype = resp.headers.get("Content-Type", "")
            take = start(ctype)
            got = 0
            grace = self.timeout[1]
            while True:
                try:
                    chunk = resp.raw.read1(_READ, decode_content=True)
                except urllib3.exceptions.ReadTimeoutError as exc:
                    raise requests.exceptions.ReadTimeout(str(exc)) from None
                except urllib3.exceptions.DecodeError:
                    raise _Failed("the answer's compression is damaged") from None
                except (urllib3.exceptions.ProtocolError, OSError) as exc:
                    raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
                if not chunk:
                    break
                got += len(chunk)
                if got > cap:
                    raise _Failed(_too_big(got, cap, cap_name))
                take(chunk)
                elapsed = time.monotonic() - started
                if elapsed > self.deadline:
                    raise _Failed(
                        f"no complete answer within the deadline of {self.deadline:g} s "
                        f"({got} bytes received; set --option deadline=SECONDS)"
                    )
                if elapsed > grace and got / elapsed < self.min_rate:
                    raise _Failed(
                        f"the server sends too slowly ({got / elapsed:.0f} bytes/s, "
                        f"below {self.min_rate:g}; set --option min_rate=BYTES_PER_SECOND)"
                    )
            return ctype
        finally:
            resp.close()

    # -- WADO-RS ---------------------------------------------------------------------------
    def instance_url(self, study: str, series: str, instance: str) -> str:
        """The WADO-RS URL of one instance (also the ``origin`` the library records)."""
        return f"{self.url}/studies/{study}/series/{series}/instances/{instance}"

    def retrieve_instance(self, study: str, series: str, instance: str) -> bytes:
        """The stored DICOM file of one instance, byte for byte (no transcoding), in memory
        (at most ``max_instance_bytes``); :meth:`retrieve_instance_to` writes it to a file."""
        body = io.BytesIO()

        def attempt() -> Callable[[bytes], object]:
            body.seek(0)
            body.truncate()
            return body.write

        self._retrieve(study, series, instance, attempt)
        return body.getvalue()

    def retrieve_instance_to(self, study: str, series: str, instance: str, folder: Path) -> Path:
        """The stored DICOM file of one instance, written to a new file in ``folder`` as it
        arrives: nameless until complete (:class:`~ownscan.core.files.PartFile`), so nothing
        is held in memory and an interrupted or refused transfer leaves nothing behind.
        Returns the file's (hidden) name; it belongs to the caller."""
        part: list[PartFile] = []

        def attempt() -> Callable[[bytes], object]:
            for old in part:  # a failed attempt's file goes
                old.discard()
            part[:] = [PartFile(folder)]
            offset = 0

            def write(data: bytes) -> None:
                nonlocal offset
                part[0].write(data, offset)
                offset += len(data)

            return write

        try:
            self._retrieve(study, series, instance, attempt)
            return part[0].commit(lambda: folder / f".wado-{os.getpid()}-{next(_names)}.dcm")
        finally:
            for old in part:
                old.discard()

    def _retrieve(
        self,
        study: str,
        series: str,
        instance: str,
        attempt: Callable[[], Callable[[bytes], object]],
    ) -> None:
        """Retrieve one instance, its one DICOM part going to what ``attempt()`` returns
        (called again, and fresh, for each try)."""
        url = self.instance_url(study, series, instance)

        def call() -> None:
            reader: list[MultipartReader] = []

            def start(ctype: str) -> Callable[[bytes], object]:
                reader.append(MultipartReader(ctype, attempt()))
                return reader[0].feed

            try:
                self._stream(
                    url,
                    None,
                    ACCEPT_DICOM_ANY_SYNTAX,
                    self.max_instance_bytes,
                    "max_instance_bytes",
                    start,
                )
                reader[0].finish()
            except MultipartError as exc:
                if exc.retryable:
                    raise _Retryable(exc.reason) from None
                raise _Failed(exc.reason) from None

        self._with_auth(lambda: _retrying(call, url, self))

    # -- errors ----------------------------------------------------------------------------
    def _where(self, path: str) -> str:
        return f"{self.url}/{path}"

    def _with_auth(self, call: Callable[[], T]) -> T:
        """Run ``call``; on 401 without credentials, prompt once on a terminal and retry."""
        try:
            return call()
        except _AuthRequired as exc:
            if self.credentials.kind == "none" and self.prompt and _interactive():
                with self._lock:
                    if self.credentials.kind == "none":
                        self.credentials = Credentials.prompt(self.url)
                        self._generation += 1
                try:
                    return call()
                except _AuthRequired as again:
                    raise self._auth_error(again) from None
            raise self._auth_error(exc) from None

    def _auth_error(self, exc: _AuthRequired) -> DicomwebError:
        if exc.status == 403:
            return DicomwebError(
                self.url, "access forbidden (HTTP 403): these credentials may not read this data"
            )
        if self.credentials.kind == "none":
            return DicomwebError(
                self.url,
                "the server requires authentication (HTTP 401); set "
                f"{ENV_USER} and {ENV_PASSWORD}, or {ENV_TOKEN}",
            )
        return DicomwebError(
            self.url,
            f"the server rejected the credentials from {self.credentials.source} (HTTP 401)",
        )


class _AuthRequired(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _NotFound(Exception):
    pass


def _raise_for_status(resp: requests.Response) -> None:
    """Classify an HTTP status: fine, auth, retryable or a plain failure."""
    status = resp.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise _AuthRequired(status)
    if status in _RETRY_STATUS:
        raise _Retryable(f"HTTP {status} {resp.reason}", _retry_after(resp), status)
    raise _Failed(f"HTTP {status} {resp.reason}".strip(), status)


class _Failed(Exception):
    """A request that failed for good (HTTP 4xx other than auth, a malformed answer)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _retry_after(resp: requests.Response) -> float | None:
    """The server's Retry-After in seconds (a number or an HTTP date), at most 60."""
    value = resp.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, min(float(value), 60.0))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), 60.0))


def _too_big(size: int, cap: int, name: str) -> str:
    return (
        f"the answer is larger than {cap:,} bytes ({size:,} or more; "
        f"set --option {name}=BYTES to allow more)"
    )


def _uid_of(d: Mapping[str, Any], tag: str) -> str | None:
    el = d.get(tag)
    value = el.get("Value") if isinstance(el, dict) else None
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def parse_qido(body: bytes) -> list[dict[str, Any]]:
    """The results of a QIDO-RS answer: a JSON list of DICOM JSON objects (an empty answer,
    HTTP 204, is no results).

    Raises
    ------
    _Failed
        Not JSON, or JSON of another shape (an object, a list of other things).
    """
    if not body.strip():
        return []
    try:
        found = json.loads(body)
    except (ValueError, RecursionError):
        raise _Failed("the answer is not JSON (is this a DICOMweb root?)") from None
    if isinstance(found, dict):
        raise _Failed(
            "the answer is a JSON object, not a list of DICOM JSON results "
            "(is this a DICOMweb root?)"
        )
    if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
        raise _Failed("the answer is not DICOM JSON (is this a DICOMweb root?)")
    return found


def _retrying(call: Callable[[], T], where: str, conn: Connection) -> T:
    """Run ``call`` with retries and exponential backoff; translate failures to DicomwebError.

    Retried: connection errors, time-outs, truncated bodies, HTTP 408/429/5xx. Not retried:
    TLS failures, 401/403 (re-raised as :class:`_AuthRequired` for the prompt), other 4xx.
    """
    import requests

    attempt = 0
    while True:
        failure: Exception
        try:
            result = call()
            conn.answered = True
            return result
        except _AuthRequired:
            raise
        except _Failed as exc:
            raise RequestFailed(where, exc.reason, exc.status) from None
        except requests.exceptions.SSLError:
            raise DicomwebError(
                where,
                "TLS certificate verification failed; if you trust this server, "
                "repeat with --insecure",
            ) from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.Timeout,
        ) as exc:
            failure = exc
        except _Retryable as exc:
            failure = exc
        if attempt >= conn.retries or conn.aborted:
            raise _final_error(where, failure, attempt + 1, conn.answered) from None
        wait = min(conn.backoff * 2**attempt, 30.0)
        if isinstance(failure, _Retryable) and failure.retry_after is not None:
            wait = max(wait, failure.retry_after)
        log.info("%s: %s; retrying in %.1f s", where, _describe(failure), wait)
        if conn._aborted.wait(wait):
            raise _final_error(where, failure, attempt + 1, conn.answered) from None
        attempt += 1


def _final_error(where: str, exc: Exception, attempts: int, answered: bool) -> DicomwebError:
    import requests

    what = _describe(exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return ServerUnreachable(where, f"{what} ({attempts} attempts)")
    if isinstance(
        exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        state = "the server stopped answering" if answered else "cannot reach the server"
        return ServerUnreachable(where, f"{state}: {what} ({attempts} attempts)")
    return RequestFailed(where, f"{what} ({attempts} attempts)", getattr(exc, "status", None))


def _describe(exc: BaseException) -> str:
    """A short human reason for a transport failure (no URLs, no headers, no credentials)."""
    import requests

    if isinstance(exc, _Retryable | _Failed):
        return exc.reason
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timed out waiting for data"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off in the middle of a response"
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host name"),
        ("Temporary failure in name resolution", "host name lookup failed"),
        ("RemoteDisconnected", "the server closed the connection without answering"),
        ("Connection reset", "connection reset by the server"),
        ("Connection aborted", "the connection was aborted"),
        ("IncompleteRead", "the connection broke off in the middle of a response"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


class MultipartError(OwnscanError):
    """A WADO-RS response that is not one complete DICOM part."""

    def __init__(self, retryable: bool, reason: str) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.reason = reason


_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";]+)"?', re.IGNORECASE)
# what may come before the first boundary, and a part's headers: more is not a DICOM answer
_MAX_HEAD = 64 << 10


class MultipartReader:
    """The one ``application/dicom`` part of a WADO-RS instance response, split as the
    response arrives: :meth:`feed` each piece of the body, then :meth:`finish`.

    The part's bytes go to ``out`` as they come (the library's nameless file, or memory
    outside a library); only a window as long as the boundary is held back, so memory stays
    bounded whatever the part's size. A bare ``application/dicom`` body (sent by some
    non-conforming servers) is taken as it is.

    Parameters
    ----------
    content_type
        The response's Content-Type (``multipart/related; type=...; boundary=...``).
    out
        Called with each piece of the part's content, in order.

    Raises
    ------
    MultipartError
        ``retryable`` True: the body ends early (truncated), another attempt may succeed;
        False: not a DICOM response, or not exactly one part.
    """

    def __init__(self, content_type: str, out: Callable[[bytes], object]) -> None:
        media = content_type.split(";", 1)[0].strip().lower()
        self._out = out
        self.size = 0  # bytes of the (first) part so far
        self._buf = bytearray()
        self._parts = 0
        self._declared: int | None = None
        if media == "application/dicom":
            self._state = "bare"
            return
        if media != "multipart/related":
            raise MultipartError(
                False, f"expected multipart/related DICOM, got {media or 'no Content-Type'}"
            )
        m = _BOUNDARY.search(content_type)
        if m is None:
            raise MultipartError(False, "multipart/related response without a boundary")
        self._delimiter = b"--" + m.group(1).strip().encode("ascii", "replace")
        self._end = b"\r\n" + self._delimiter  # a part's content ends here
        self._state = "preamble"

    def feed(self, data: bytes) -> None:
        """Take the next piece of the response body."""
        if self._state == "bare":
            self._emit(data)
            return
        if self._state == "done":
            return  # the epilogue after the closing boundary is ignored
        self._buf += data
        while self._step():
            pass

    def _emit(self, data: bytes | bytearray) -> None:
        if self._parts <= 1 and data:  # a second part is only counted, never kept
            self.size += len(data)
            self._out(bytes(data))

    def _step(self) -> bool:
        """Advance through what is buffered; True while there may be more to do now."""
        buf = self._buf
        if self._state == "preamble":
            at = buf.find(self._delimiter)
            if at < 0:
                if len(buf) > _MAX_HEAD:
                    raise MultipartError(False, "multipart response without its boundary")
                return False
            del buf[: at + len(self._delimiter)]
            self._state = "head"
            return True
        if self._state == "head":
            if len(buf) >= 2 and buf[:2] == b"--":  # the closing delimiter
                self._state = "done"
                buf.clear()
                return False
            at = buf.find(b"\r\n\r\n")
            if at < 0:
                if len(buf) > _MAX_HEAD:
                    raise MultipartError(
                        False, "malformed multipart part (no blank line after its headers)"
                    )
                return False
            self._header(bytes(buf[:at]))
            del buf[: at + 4]
            self._parts += 1
            self._state = "content"
            return True
        # content: everything up to CRLF + delimiter; keep a tail that may begin the marker
        at = buf.find(self._end)
        if at < 0:
            keep = len(self._end) - 1
            if len(buf) > keep:
                self._emit(buf[: len(buf) - keep])
                del buf[: len(buf) - keep]
            return False
        self._emit(buf[:at])
        del buf[: at + len(self._end)]
        if self._parts == 1:
            self._check_length()
        self._state = "head"
        return True

    def _header(self, head: bytes) -> None:
        headers = head.decode("latin-1").lower()
        ctype = re.search(r"content-type:\s*([^\s;]+)", headers)
        if ctype is not None and ctype.group(1) != "application/dicom":
            raise MultipartError(
                False, f"part of type {ctype.group(1)}, expected application/dicom"
            )
        length = re.search(r"content-length:\s*(\d+)", headers)
        if self._parts == 0 and length is not None:
            self._declared = int(length.group(1))

    def _check_length(self) -> None:
        if self._declared is not None and self._declared != self.size:
            raise MultipartError(
                True, f"part is {self.size} bytes, its header says {self._declared} (truncated?)"
            )

    def finish(self) -> None:
        """The body has ended: check that it held exactly one complete part."""
        if self._state == "bare":
            return
        if self._state == "preamble":
            raise MultipartError(True, "response body without its multipart boundary (truncated?)")
        if self._state != "done":
            raise MultipartError(
                True, "multipart response ends before its closing boundary (truncated)"
            )
        if self._parts != 1:
            raise MultipartError(
                False, f"expected one DICOM part for one instance, got {self._parts}"
            )


def split_multipart(content_type: str, body: bytes, url: str) -> bytes:
    """The one ``application/dicom`` part of a whole WADO-RS instance response
    (:class:`MultipartReader` over a body in memory).

    Parameters
    ----------
    content_type
        The response's Content-Type (``multipart/related; type=...; boundary=...``). A bare
        ``application/dicom`` body (sent by some non-conforming servers) is accepted as is.
    body
        The whole response body.
    url
        For messages.

    Raises
    ------
    MultipartError
        As :class:`MultipartReader`.
    """
    if content_type.split(";", 1)[0].strip().lower() == "application/dicom":
        log.debug("%s: server sent application/dicom instead of multipart/related", url)
        return body
    out = io.BytesIO()
    reader = MultipartReader(content_type, out.write)
    reader.feed(body)
    reader.finish()
    return out.getvalue()
