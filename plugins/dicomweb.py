"""The built-in DICOMweb importer: studies from a PACS or a patient portal over QIDO-RS/WADO-RS.

``ownscan import https://pacs.example/dicom-web --patient 12345 --since 2024-01-01`` claims any
``http://`` or ``https://`` source (the DICOMweb root, the URL that ``/studies`` is appended to)
and then:

1. **QIDO-RS** finds the studies (filters from :attr:`ImportOptions.extra`: ``study`` UID,
   ``patient`` ID, ``since`` date), their series, and the SOP Instance UIDs of every series.
   Servers that ignore a filter are caught: studies that do not match what was asked for are
   dropped with a warning, so a patient never downloads someone else's study by accident.
2. Instances the library already holds (``ImportOptions.known_instance``) are skipped, which
   makes an interrupted import resumable: run it again and only what is missing is fetched.
3. **WADO-RS** retrieves the rest, one instance per request, ``parallel`` requests at a time
   (default 4), asking for ``transfer-syntax=*`` so the server sends the stored file unchanged.
   Each answer is written as it arrives to a nameless file in the library's ``spool`` folder
   (:attr:`ImportOptions.spool`; held in memory outside a library), checked (a DICOM file,
   the SOP Instance UID that was asked for) and yielded as ``SourceItem(path=..., temporary=True,
   origin=<instance URL>)`` (the library removes the file once read) as soon as it is complete.
4. Every series is complete only when all its instances are in the library; the
   :class:`RetrievalSummary` (``DicomwebImporter.last_summary``, and the ``on_summary`` callback
   if the caller passes one in ``extra``) says so per series.

Failures: one instance that cannot be had (HTTP 404, not DICOM) becomes an item with
``problem`` set and its series stays incomplete; a server that stops answering (after retries
with backoff) ends the import with :class:`DicomwebError` saying how much arrived and that a
re-run resumes; wrong or missing credentials end it with a one-line message. Credentials
(see :mod:`ownscan.plugins._dicomweb`) never appear in origins, logs or messages.
"""

from __future__ import annotations

import datetime as _dt
import errno
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ownscan.core.dicom import (
    MEDIA_STORAGE_SOP_INSTANCE,
    NotDicom,
    ReadProblem,
    file_meta,
    meta_text,
)
from ownscan.core.errors import UsageError
from ownscan.core.hookspecs import hookimpl
from ownscan.core.plugin_types import ImportOptions, OptionParser, SearchResult, SourceItem
from ownscan.plugins._dicomweb import (
    Connection,
    Credentials,
    DicomwebError,
    RequestFailed,
    ServerUnreachable,
    check_uid,
)

__all__ = [
    "DEFAULT_PARALLEL",
    "DicomwebError",
    "DicomwebImporter",
    "RemoteStudy",
    "RetrievalSummary",
    "SeriesStatus",
    "connect",
    "media_storage_sop_instance_uid",
    "parse_since",
    "search_studies",
]

log = logging.getLogger(__name__)

DEFAULT_PARALLEL = 4
_MAX_PARALLEL = 32

# DICOM JSON tags (PS3.18 F.2) used below.
_STUDY_UID = "0020000D"
_SERIES_UID = "0020000E"
_SOP_UID = "00080018"
_PATIENT_ID = "00100020"
_PATIENT_NAME = "00100010"
_STUDY_DATE = "00080020"
_STUDY_DESCRIPTION = "00081030"
_MODALITIES = "00080061"
_N_SERIES = "00201206"
_N_STUDY_INSTANCES = "00201208"
_MODALITY = "00080060"
_SERIES_DESCRIPTION = "0008103E"
_SERIES_NUMBER = "00200011"
_N_SERIES_INSTANCES = "00201209"

_STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                 "NumberOfStudyRelatedInstances")  # fmt: skip
_SERIES_FIELDS = ("SeriesDescription", "Modality", "SeriesNumber",
                  "NumberOfSeriesRelatedInstances")  # fmt: skip


def _values(ds: Mapping[str, Any], tag: str) -> list[Any]:
    """The values of ``tag`` in a DICOM JSON dataset; none when the server wrote the element
    as anything but an object with a list of values (a string's first letter, or a number's
    ``.get``, is not a value)."""
    element = ds.get(tag)
    values = element.get("Value") if isinstance(element, dict) else None
    return values if isinstance(values, list) else []


def _first(ds: Mapping[str, Any], tag: str) -> Any:
    """The first value of ``tag`` in a DICOM JSON dataset, or None."""
    values = _values(ds, tag) or [None]
    value = values[0]
    if isinstance(value, dict):  # PN: {"Alphabetic": "Doe^Jane"}
        return value.get("Alphabetic")
    return value


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RemoteStudy:
    """A study on the server, as QIDO-RS describes it (nothing downloaded).

    Counts are None when the server does not report them.
    """

    study_uid: str
    patient_id: str | None
    patient_name: str | None
    date: str | None  # YYYY-MM-DD
    description: str | None
    modalities: tuple[str, ...]
    series_count: int | None
    instance_count: int | None

    @classmethod
    def from_json(cls, ds: Mapping[str, Any]) -> RemoteStudy:
        raw_date = _first(ds, _STUDY_DATE)
        modalities = tuple(str(m) for m in _values(ds, _MODALITIES))
        return cls(
            study_uid=str(_first(ds, _STUDY_UID) or ""),
            patient_id=_first(ds, _PATIENT_ID),
            patient_name=_first(ds, _PATIENT_NAME),
            date=_iso_date(raw_date),
            description=_first(ds, _STUDY_DESCRIPTION),
            modalities=modalities,
            series_count=_int_or_none(_first(ds, _N_SERIES)),
            instance_count=_int_or_none(_first(ds, _N_STUDY_INSTANCES)),
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``ownscan search --json``)."""
        d = asdict(self)
        d["modalities"] = list(self.modalities)
        return d


def _iso_date(value: Any) -> str | None:
    if not value:
        return None
    s = str(value)
    if len(s) == 8 and s.isdigit():
        return f"{s[:4]}-{s[4:6]}-{s[6:]}"
    return s


def parse_since(value: str) -> str:
    """A ``--since`` date (``YYYY-MM-DD`` or ``YYYYMMDD``) as a DICOM date ``YYYYMMDD``.

    Raises
    ------
    UsageError
        Not a valid calendar date; the message shows the accepted form.
    """
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return _dt.datetime.strptime(text, fmt).strftime("%Y%m%d")
        except ValueError:
            continue
    raise UsageError(f"--since {value!r} is not a date; use YYYY-MM-DD, e.g. 2024-01-31")


def _bool_option(value: Any) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if value.strip().lower() in ("", "0", "false", "no", "off"):
            return False
        raise UsageError(f"expected true or false, got {value!r}")
    return bool(value)


def _seconds_option(value: Any, name: str = "timeout") -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--option {name}={value!r} is not a number") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise UsageError(f"--option {name}={value!r} must be a number more than 0")
    return seconds


def _limits(options: ImportOptions) -> dict[str, Any]:
    """The bounds on answers from ``options`` (``deadline``, ``min_rate``,
    ``max_instance_bytes``, ``max_answer_bytes``), for :class:`Connection`."""
    out: dict[str, Any] = {}
    for name in ("deadline", "min_rate", "max_instance_bytes", "max_answer_bytes"):
        value = options.get(name)
        if value is not None:
            number = _seconds_option(value, name)
            out[name] = int(number) if name.startswith("max_") else number
    return out


def _parallel_option(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--parallel {value!r} is not a whole number") from None
    if not 1 <= n <= _MAX_PARALLEL:
        raise UsageError(f"--parallel {n} is out of range; valid: 1 to {_MAX_PARALLEL}")
    return n


def connect(
    url: str,
    *,
    insecure: bool = False,
    timeout: float = 60.0,
    prompt: bool = True,
    compress: bool | None = None,
    **limits: Any,
) -> Connection:
    """A :class:`Connection` to ``url`` with credentials from the environment (or a prompt).

    Parameters
    ----------
    url
        The DICOMweb root.
    insecure
        Turn TLS certificate verification off.
    timeout
        Seconds to wait for the server.
    prompt
        Ask on the terminal when the server wants credentials and none were given.
    compress
        Accept gzip answers; None: only from servers not on this machine.
    **limits
        ``deadline``, ``min_rate``, ``max_instance_bytes``, ``max_answer_bytes``: the bounds on
        every answer (:class:`Connection`).
    """
    return Connection(
        url,
        Credentials.from_environment(),
        insecure=insecure,
        timeout=timeout,
        prompt=prompt,
        compress=compress,
        **limits,
    )


def search_studies(
    conn: Connection,
    *,
    patient: str | None = None,
    since: str | None = None,
    study: str | None = None,
) -> list[RemoteStudy]:
    """The studies on the server that match the filters (QIDO-RS), oldest first.

    Parameters
    ----------
    conn
        From :func:`connect`.
    patient
        Patient ID (exact match).
    since
        Earliest study date, ``YYYY-MM-DD`` or ``YYYYMMDD``.
    study
        Study Instance UID.

    Returns
    -------
    list of RemoteStudy
        Studies the server returned that really match the filters; those that do not (a
        server that ignores a filter) are dropped with a warning.
    """
    filters: dict[str, str] = {}
    if patient:
        filters["PatientID"] = patient
    since_dicom = parse_since(since) if since else None
    if since_dicom:
        filters["StudyDate"] = f"{since_dicom}-"
    if study:
        filters["StudyInstanceUID"] = check_uid(study, "--study")
    found = [RemoteStudy.from_json(ds) for ds in conn.qido("studies", filters, _STUDY_FIELDS)]
    kept: list[RemoteStudy] = []
    for s in found:
        why = None
        if not s.study_uid:
            why = "it has no Study Instance UID"
        elif not _is_uid(s.study_uid):  # it goes into the next requests' paths
            why = "its Study Instance UID is not a DICOM UID (digits and dots, at most 64)"
        elif study and s.study_uid != study:
            why = "its Study Instance UID differs from --study"
        elif patient and s.patient_id != patient:
            why = f"its Patient ID {s.patient_id!r} differs from --patient"
        elif since_dicom and (s.date is None or s.date.replace("-", "") < since_dicom):
            why = f"its date {s.date} is before --since"
        if why:
            log.warning(
                "%s: the server returned study %s although %s; ignoring it (the server "
                "may not support this filter)",
                conn.url,
                repr(s.study_uid[:80]) if s.study_uid else "?",
                why,
            )
            continue
        kept.append(s)
    kept.sort(key=lambda s: (s.date or "", s.study_uid))
    return kept


@dataclass
class SeriesStatus:
    """What happened to one remote series during an import.

    ``complete`` is True only when every instance the server lists is in the library: either
    already there before (``known``) or retrieved now (``retrieved``).
    """

    study_uid: str
    series_uid: str
    modality: str | None
    description: str | None
    expected: int
    known: int = 0
    retrieved: int = 0
    failed: list[str] = field(default_factory=list)  # "origin: reason"

    @property
    def complete(self) -> bool:
        return self.known + self.retrieved == self.expected and not self.failed

    def line(self) -> str:
        """One line for people."""
        name = " ".join(x for x in (self.modality, self.description) if x) or self.series_uid
        have = self.known + self.retrieved
        state = "complete" if self.complete else "INCOMPLETE"
        extra = f", {self.known} already in the library" if self.known else ""
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return f"{state}: {name}: {have} of {self.expected} instances{extra}{failed}"


@dataclass
class RetrievalSummary:
    """Per-series completeness of one DICOMweb import (also when it stopped early)."""

    url: str
    series: list[SeriesStatus] = field(default_factory=list)
    stopped: str | None = None  # why the import ended early, if it did

    @property
    def complete(self) -> bool:
        return self.stopped is None and all(s.complete for s in self.series)

    @property
    def retrieved(self) -> int:
        return sum(s.retrieved for s in self.series)

    @property
    def expected(self) -> int:
        return sum(s.expected for s in self.series)

    def lines(self) -> list[str]:
        """The summary for people: one line per series, then the verdict."""
        out = [s.line() for s in self.series]
        if self.stopped:
            out.append(f"stopped early: {self.stopped}")
        if not self.complete:
            out.append("run the same import again to fetch what is missing")
        return out


class DicomwebImporter:
    """Imports studies from a DICOMweb server (QIDO-RS to find, WADO-RS to retrieve).

    Options (``ImportOptions.extra``): ``study`` (Study Instance UID), ``patient`` (Patient ID),
    ``since`` (``YYYY-MM-DD``), ``parallel`` (requests at a time, default 4), ``insecure`` (no
    TLS verification), ``timeout`` (seconds), ``compress`` (accept gzip; default: only from
    servers not on this machine), ``deadline`` (seconds per request, default 1800),
    ``min_rate`` (bytes/s, default 1024), ``max_instance_bytes`` (default 1 GiB),
    ``max_answer_bytes`` (a QIDO-RS answer, default 64 MiB), ``on_summary`` (called with the
    :class:`RetrievalSummary` when the import ends, also when it fails).
    """

    name = "dicomweb"
    description = "a DICOMweb server (QIDO-RS + WADO-RS): http(s)://host/dicom-web"
    priority = 50

    def __init__(self) -> None:
        self.last_summary: RetrievalSummary | None = None

    def notes(self) -> list[str]:
        """Per-series completeness of the last import, for ``ownscan import`` to print."""
        return self.last_summary.lines() if self.last_summary is not None else []

    def claims(self, source: str) -> bool:
        return source.lower().startswith(("http://", "https://"))

    def search(self, source: str, options: ImportOptions) -> SearchResult:
        """The studies on the server that match the filters in ``options`` (``patient``,
        ``since``, ``study``), nothing downloaded: what ``ownscan search`` lists."""
        insecure = _bool_option(options.get("insecure", False))
        timeout = _seconds_option(options.get("timeout", 60.0))
        with connect(source, insecure=insecure, timeout=timeout, **_limits(options)) as conn:
            studies = search_studies(
                conn,
                patient=options.get("patient"),
                since=options.get("since"),
                study=options.get("study"),
            )
            return SearchResult(conn.url, [s.as_dict() for s in studies])

    def iter_items(self, source: str, options: ImportOptions) -> Iterator[SourceItem]:
        parallel = _parallel_option(options.get("parallel", DEFAULT_PARALLEL))
        insecure = _bool_option(options.get("insecure", False))
        timeout = _seconds_option(options.get("timeout", 60.0))
        compress = options.get("compress")
        compress = None if compress is None else _bool_option(compress)
        study = options.get("study")
        if study:
            check_uid(str(study), "--study")
        since = options.get("since")
        if since:
            parse_since(str(since))
        summary = RetrievalSummary(url=source)
        self.last_summary = summary
        on_summary: Callable[[RetrievalSummary], None] | None = options.get("on_summary")
        limits = _limits(options)
        try:
            with connect(
                source, insecure=insecure, timeout=timeout, compress=compress, **limits
            ) as conn:
                summary.url = conn.url
                yield from self._run(conn, options, summary, parallel)
        finally:
            if on_summary is not None:
                on_summary(summary)

    # -- the work --------------------------------------------------------------------------
    def _run(
        self,
        conn: Connection,
        options: ImportOptions,
        summary: RetrievalSummary,
        parallel: int,
    ) -> Iterator[SourceItem]:
        studies = search_studies(
            conn,
            patient=options.get("patient"),
            since=options.get("since"),
            study=options.get("study"),
        )
        if not studies:
            raise DicomwebError(conn.url, "no study on the server matches" + _asked(options))
        known = options.known_instance or (lambda _uid: False)
        todo: list[tuple[SeriesStatus, str]] = []
        series = [
            (st.study_uid, ds)
            for st in studies
            for ds in conn.qido(f"studies/{st.study_uid}/series", None, _SERIES_FIELDS)
            if _good_series(conn, st.study_uid, ds)
        ]
        # the instance lists of all series, ``parallel`` QIDO-RS requests at a time
        with ThreadPoolExecutor(parallel, thread_name_prefix="qido") as pool:
            listed = list(pool.map(lambda sd: _list_instances(conn, *sd), series))
        for (study_uid, ds), (series_uid, sops) in zip(series, listed, strict=True):
            status = self._plan_series(conn, study_uid, series_uid, sops, ds, known, todo)
            summary.series.append(status)
        log.info(
            "%s: %d studies, %d series, %d instances to retrieve",
            conn.url,
            len(studies),
            len(summary.series),
            len(todo),
        )
        yield from self._retrieve(conn, todo, summary, parallel, options.spool)

    @staticmethod
    def _plan_series(
        conn: Connection,
        study_uid: str,
        series_uid: str,
        sops: list[str],
        ds: Mapping[str, Any],
        known: Callable[[str], bool],
        todo: list[tuple[SeriesStatus, str]],
    ) -> SeriesStatus:
        status = SeriesStatus(
            study_uid=study_uid,
            series_uid=series_uid,
            modality=_first(ds, _MODALITY),
            description=_first(ds, _SERIES_DESCRIPTION),
            expected=len(sops),
        )
        announced = _int_or_none(_first(ds, _N_SERIES_INSTANCES))
        if announced is not None and announced != len(sops):
            log.warning(
                "%s: series %s announces %d instances but lists %d; importing the %d listed",
                conn.url,
                series_uid,
                announced,
                len(sops),
                len(sops),
            )
        for sop in sops:
            if known(sop):
                status.known += 1
            else:
                todo.append((status, sop))
        return status

    def _retrieve(
        self,
        conn: Connection,
        todo: list[tuple[SeriesStatus, str]],
        summary: RetrievalSummary,
        parallel: int,
        spool: Path | None,
    ) -> Iterator[SourceItem]:
        fatal: DicomwebError | None = None
        pending: dict[Future[bytes | Path], tuple[SeriesStatus, str]] = {}
        queue = iter(todo)
        with ThreadPoolExecutor(parallel, thread_name_prefix="wado") as pool:
            try:
                while True:
                    while fatal is None and len(pending) < 4 * parallel:
                        job = next(queue, None)
                        if job is None:
                            break
                        st, sop = job
                        fut = pool.submit(_fetch, conn, st.study_uid, st.series_uid, sop, spool)
                        pending[fut] = job
                    if not pending:
                        break
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        st, sop = pending.pop(fut)
                        url = conn.instance_url(st.study_uid, st.series_uid, sop)
                        try:
                            data = fut.result()
                        except (ServerUnreachable, DicomwebError) as exc:
                            if isinstance(exc, RequestFailed):
                                st.failed.append(f"{url}: {exc.reason}")
                                yield SourceItem(origin=url, problem=f"not retrieved: {exc.reason}")
                            elif fatal is None:
                                fatal = exc
                                conn.abort()  # in-flight requests stop retrying
                                for other in [f for f in pending if f.cancel()]:
                                    del pending[other]  # queued, never started
                            continue
                        st.retrieved += 1
                        if isinstance(data, Path):  # the library's file: it removes it
                            yield SourceItem(origin=url, path=data, temporary=True)
                        else:
                            yield SourceItem(origin=url, data=data)
            finally:
                for fut in pending:
                    fut.cancel()
                # retrieved files the library never took (the import stopped): removed
                for fut in pending:
                    if not fut.cancelled() and fut.exception() is None:
                        left = fut.result()
                        if isinstance(left, Path):
                            left.unlink(missing_ok=True)
        if fatal is not None:
            got = summary.retrieved + sum(s.known for s in summary.series)
            reason = fatal.reason
            summary.stopped = reason
            raise DicomwebError(
                conn.url,
                f"{reason}; {got} of {summary.expected} instances are in the library. "
                "Run the same import again to fetch the rest (what arrived is kept)",
            )


def _list_instances(
    conn: Connection, study_uid: str, ds: Mapping[str, Any]
) -> tuple[str, list[str]]:
    """The Series Instance UID of a QIDO-RS series result, and its SOP Instance UIDs."""
    series_uid = check_uid(str(_first(ds, _SERIES_UID) or ""), "Series Instance UID")
    path = f"studies/{study_uid}/series/{series_uid}/instances"
    sops = []
    for inst in conn.qido(path):
        sop = str(_first(inst, _SOP_UID) or "")
        if not _is_uid(sop):
            what = (
                f"SOP Instance UID {sop[:80]!r} not a DICOM UID" if sop else "no SOP Instance UID"
            )
            log.warning("%s/%s: an instance with %s; skipped", conn.url, path, what)
            continue
        sops.append(sop)
    return series_uid, list(dict.fromkeys(sops))  # a server listing one instance twice


def _good_series(conn: Connection, study_uid: str, ds: Mapping[str, Any]) -> bool:
    """Whether a QIDO-RS series result has a Series Instance UID: one series the server
    describes wrongly is skipped with a warning, not the whole import stopped."""
    series_uid = str(_first(ds, _SERIES_UID) or "")
    if _is_uid(series_uid):
        return True
    log.warning(
        "%s: a series of study %s whose Series Instance UID %r is not a DICOM UID "
        "(digits and dots, at most 64); skipped",
        conn.url,
        study_uid,
        series_uid[:80],
    )
    return False


def _is_uid(text: str) -> bool:
    try:
        check_uid(text, "")
    except UsageError:
        return False
    return True


def _fetch(conn: Connection, study: str, series: str, sop: str, spool: Path | None) -> bytes | Path:
    """Retrieve one instance and check that it is the DICOM file that was asked for: written
    to a new file in ``spool`` as it arrives (the library's), else held in memory."""
    if spool is None:
        data: bytes | Path = conn.retrieve_instance(study, series, sop)
    else:
        try:
            data = conn.retrieve_instance_to(study, series, sop, spool)
        except OSError as exc:  # the library's disk (full, read-only): the import stops
            import requests

            if isinstance(exc, requests.exceptions.RequestException):
                raise  # (requests' errors are OSErrors too: not about the disk)
            hint = (
                "; free some space"
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
                else ""
            )
            raise DicomwebError(
                conn.url,
                f"cannot write the download to the library ({exc.strerror or exc}){hint}",
            ) from None
    try:
        try:
            got = meta_text(file_meta(data), MEDIA_STORAGE_SOP_INSTANCE)
            if not got:
                raise ReadProblem(_NO_SOP)
        except (NotDicom, ReadProblem, OSError) as exc:
            raise RequestFailed(
                conn.instance_url(study, series, sop), f"the answer is not a DICOM file ({exc})"
            ) from None
        if got != sop:
            raise RequestFailed(
                conn.instance_url(study, series, sop), f"the server sent instance {got} instead"
            )
    except BaseException:
        if isinstance(data, Path):
            data.unlink(missing_ok=True)
        raise
    return data


_NO_SOP = "file meta information without Media Storage SOP Instance UID"


def media_storage_sop_instance_uid(data: bytes) -> str:
    """The Media Storage SOP Instance UID (0002,0003) of a DICOM file (PS3.10), read from its
    file meta information alone (core's :func:`~ownscan.core.dicom.file_meta`), in
    microseconds.

    Raises
    ------
    NotDicom
        No ``DICM`` marker after the 128-byte preamble.
    ReadProblem
        File meta information that is cut short, damaged, or without (0002,0003).
    """
    uid = meta_text(file_meta(data), MEDIA_STORAGE_SOP_INSTANCE)
    if not uid:
        raise ReadProblem(_NO_SOP)
    return uid


def _asked(options: ImportOptions) -> str:
    parts = [f"--{k} {options.get(k)}" for k in ("patient", "since", "study") if options.get(k)]
    return (" " + " ".join(parts)) if parts else ""


@hookimpl
def ownscan_importers() -> list[DicomwebImporter]:
    return [DicomwebImporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    """The filters and connection flags, for ``import`` and ``search``."""
    if command not in ("import", "search"):
        return
    parser.add_argument(
        "--study", metavar="UID", help="DICOMweb: only the study with this Study Instance UID"
    )
    parser.add_argument("--patient", metavar="ID", help="DICOMweb: only studies of this Patient ID")
    parser.add_argument(
        "--since", metavar="DATE", help="DICOMweb: only studies on or after this date (YYYY-MM-DD)"
    )
    if command == "import":
        parser.add_argument(
            "--parallel",
            metavar="N",
            help=f"DICOMweb: requests at a time (default {DEFAULT_PARALLEL})",
        )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="DICOMweb: do not verify the server's TLS certificate (only a server you trust)",
    )
