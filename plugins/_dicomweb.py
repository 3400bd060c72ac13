"""DICOMweb transport for the ``dicomweb`` importer and ``ownscan search``.

What this module owns, and why it is separate from the importer:

* **Credentials** (:class:`Credentials`): HTTP basic from ``OWNSCAN_DICOMWEB_USER`` /
  ``OWNSCAN_DICOMWEB_PASSWORD``, a bearer token from ``OWNSCAN_DICOMWEB_TOKEN``, or a prompt
  when a terminal is attached. The secret lives only in the requests session; the object's
  ``repr`` never shows it and no message built here contains it. URLs with ``user:pass@`` are
  refused, because the URL becomes the ``origin`` of every imported instance.
* **Sessions** (:class:`Connection`): one :class:`requests.Session` per thread (WADO-RS runs in
  a thread pool), TLS verification on unless the caller asked for ``insecure``.
* **QIDO-RS** through :class:`dicomweb_client.DICOMwebClient` (query strings, pagination with
  ``offset``, DICOM JSON), with its own retrying switched off so that one retry policy
  (:func:`_retrying`) covers every request.
* **WADO-RS** of one instance as raw bytes: ``Accept: multipart/related;
  type="application/dicom"; transfer-syntax=*`` so the server sends the stored file without
  transcoding. dicomweb-client parses what it retrieves into pydicom datasets (re-encoding
  would change the bytes), so the retrieve is a plain GET on the same session and the
  multipart body is split here (:func:`split_multipart`).
* **Retries** with exponential backoff on connection errors, time-outs, truncated bodies and
  HTTP 408/429/5xx; errors that retrying cannot fix (401, 403, 404, TLS) are not retried.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ownscan.core.errors import ImportFailed, OwnscanError, UsageError

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
    ) -> None:
        self.url = check_url(url)
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
        import requests
        from dicomweb_client import DICOMwebClient

        parts = path.split("/")
        if not (
            parts == ["studies"]
            or (len(parts) == 3 and parts[0] == "studies" and parts[2] == "series")
            or (len(parts) == 5 and parts[2] == "series" and parts[4] == "instances")
        ):
            raise ValueError(f"not a QIDO-RS path: {path}")

        def page(offset: int) -> list[dict[str, Any]]:
            client = DICOMwebClient(self.url, session=self.session(), timeout=self.timeout)
            client.set_http_retry_params(retry=False)  # _retrying() is the one policy
            kw: dict[str, Any] = {
                "search_filters": dict(filters or {}),
                "fields": list(fields) or None,
                "limit": page_size,
                "offset": offset or None,
            }
            try:
                if len(parts) == 1:
                    found = client.search_for_studies(**kw)
                elif len(parts) == 3:
                    found = client.search_for_series(study_instance_uid=parts[1], **kw)
                else:
                    found = client.search_for_instances(
                        study_instance_uid=parts[1], series_instance_uid=parts[3], **kw
                    )
            except requests.exceptions.JSONDecodeError:
                raise _Failed("the answer is not JSON (is this a DICOMweb root?)") from None
            if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
                raise _Failed("the answer is not DICOM JSON (is this a DICOMweb root?)")
            return found

        results: list[dict[str, Any]] = []
        while True:
            try:
                got = self._with_auth(
                    lambda: _retrying(lambda: page(len(results)), self._where(path), self)
                )
            except RequestFailed as exc:
                if len(parts) == 1 and exc.status is not None and 400 <= exc.status < 500:
                    raise DicomwebError(
                        self.url,
                        f"{exc.reason} for /studies: is this the DICOMweb root? check the URL",
                    ) from None
                raise
            if results and got and got[0] == results[0]:
                log.warning("%s: the server ignores QIDO offset; using the first page only", path)
                break
            results.extend(got)
            if len(got) < page_size or len(got) > page_size:
                break
        return results

    # -- WADO-RS ---------------------------------------------------------------------------
    def instance_url(self, study: str, series: str, instance: str) -> str:
        """The WADO-RS URL of one instance (also the ``origin`` the library records)."""
        return f"{self.url}/studies/{study}/series/{series}/instances/{instance}"

    def retrieve_instance(self, study: str, series: str, instance: str) -> bytes:
        """The stored DICOM file of one instance, byte for byte (no transcoding)."""
        url = self.instance_url(study, series, instance)

        def call() -> bytes:
            resp = self.session().get(
                url, headers={"Accept": ACCEPT_DICOM_ANY_SYNTAX}, timeout=self.timeout
            )
            _raise_for_status(resp)
            try:
                return split_multipart(resp.headers.get("Content-Type", ""), resp.content, url)
            except MultipartError as exc:
                if exc.retryable:
                    raise _Retryable(exc.reason) from None
                raise _Failed(exc.reason) from None

        return self._with_auth(lambda: _retrying(call, url, self))

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
    value = resp.headers.get("Retry-After", "")
    try:
        return min(float(value), 60.0)
    except ValueError:
        return None


def _retrying(call: Callable[[], T], where: str, conn: Connection) -> T:
    """Run ``call`` with retries and exponential backoff; translate failures to DicomwebError.

    Retried: connection errors, time-outs, truncated bodies, HTTP 408/429/5xx. Not retried:
    TLS failures, 401/403 (re-raised as :class:`_AuthRequired` for the prompt), other 4xx.
    """
    import requests

    attempt = 0
    while True:
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
        except requests.exceptions.HTTPError as exc:  # raised inside dicomweb-client
            status = exc.response.status_code if exc.response is not None else 0
            if status in (401, 403):
                raise _AuthRequired(status) from None
            if status not in _RETRY_STATUS:
                reason = exc.response.reason if exc.response is not None else ""
                raise RequestFailed(where, f"HTTP {status} {reason}".strip(), status) from None
            reason = exc.response.reason if exc.response is not None else ""
            failure: Exception = _Retryable(f"HTTP {status} {reason}".strip(), None, status)
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


def split_multipart(content_type: str, body: bytes, url: str) -> bytes:
    """The one ``application/dicom`` part of a WADO-RS instance response.

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
        ``retryable`` True: the body ends early (truncated), another attempt may succeed;
        False: not a DICOM response, or not exactly one part.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/dicom":
        log.debug("%s: server sent application/dicom instead of multipart/related", url)
        return body
    if media != "multipart/related":
        raise MultipartError(
            False, f"expected multipart/related DICOM, got {media or 'no Content-Type'}"
        )
    m = _BOUNDARY.search(content_type)
    if m is None:
        raise MultipartError(False, "multipart/related response without a boundary")
    delimiter = b"--" + m.group(1).strip().encode("ascii", "replace")
    start = body.find(delimiter)
    if start < 0:
        raise MultipartError(True, "response body without its multipart boundary (truncated?)")
    closing = body.rfind(b"\r\n" + delimiter + b"--")
    if closing < 0:
        raise MultipartError(
            True, "multipart response ends before its closing boundary (truncated)"
        )
    chunks = body[start + len(delimiter) : closing].split(b"\r\n" + delimiter)
    parts: list[bytes] = []
    for chunk in chunks:
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError(
                False, "malformed multipart part (no blank line after its headers)"
            )
        headers = head.decode("latin-1").lower()
        ctype = re.search(r"content-type:\s*([^\s;]+)", headers)
        if ctype is not None and ctype.group(1) != "application/dicom":
            raise MultipartError(
                False, f"part of type {ctype.group(1)}, expected application/dicom"
            )
        length = re.search(r"content-length:\s*(\d+)", headers)
        if length is not None and int(length.group(1)) != len(content):
            raise MultipartError(
                True,
                f"part is {len(content)} bytes, its header says {length.group(1)} (truncated?)",
            )
        parts.append(content)
    if len(parts) != 1:
        raise MultipartError(False, f"expected one DICOM part for one instance, got {len(parts)}")
    return parts[0]
