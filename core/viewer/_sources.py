"""What the viewer can open: a list of series, each loaded on demand.

A :class:`SeriesEntry` is what the series browser lists: descriptive metadata for the
thumbnail caption, a loader that produces the :class:`~ownscan.core.volume.Volume` when the
user picks it, and the study's report text if there is one. Entries come from Volumes already
in memory (tests, scripts), from the personal library, or from a source opened directly.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ownscan.core._stacks import split_id, stack_id, stack_label, stacks_of
from ownscan.core.names import display_name
from ownscan.core.render._pages import load_file_backed
from ownscan.core.viewer._marks import StudyDocuments
from ownscan.core.viewer._stack import Stack, stack_of_series
from ownscan.core.volume import SeriesInfo, Volume

log = logging.getLogger(__name__)

__all__ = [
    "SeriesEntry",
    "entries_from_assembly",
    "entries_from_library",
    "entries_from_volumes",
    "sr_text",
    "thumbnail",
    "thumbnail_from_files",
]


@dataclass
class SeriesEntry:
    """One series the viewer can show.

    Parameters
    ----------
    key
        Unique key (the Series Instance UID where known).
    info
        What the browser shows: patient, study date, description, modality.
    load
        Returns the Volume, or a :class:`~ownscan.core.viewer._stack.Stack` of them (the
        volumes of a 4D series, the images of a 2D series: its first is shown first); called
        when the series is first shown.
    report
        The study's report as text, shown beside the images, or None.
    thumbnail_image
        An encoded preview image (PNG/JPEG) the source already has, or None.
    thumbnail_files
        Makes a preview from one file of the series (cheap), or None. Without either, the
        browser makes one from the Volume once it is loaded (never loading a series for that).
    sources
        Returns the series' original files as assembled series (what exporters that rewrite
        DICOM files take), or None when the viewer does not know them. Called on a thread.
    documents
        The study's documents (reports, key images, presentation states) as the report
        panel shows them (:class:`~ownscan.core.viewer._marks.StudyDocuments`), or None.
    stack_label
        For one stack of a series of several: which, of how many (``stack 2 of 3, oblique
        axial, 8 images``, :func:`ownscan.core._stacks.stack_label`), shown in its caption.
    """

    key: str
    info: SeriesInfo
    load: Callable[[], Volume | Stack]
    report: str | None = None
    thumbnail_image: bytes | None = None
    thumbnail_files: Callable[[], npt.NDArray[np.uint8] | None] | None = None
    sources: Callable[[], list[Any]] | None = None
    documents: Any = None
    stack_label: str = ""
    _volume: Volume | None = field(default=None, repr=False)
    #: what the series steps through (4D volumes, 2D images), once loaded; None: one picture
    stack: Stack | None = field(default=None, repr=False)

    @property
    def loaded(self) -> bool:
        return self._volume is not None

    def volume(self) -> Volume:
        """The Volume, loaded once."""
        if self._volume is None:
            got = self.load()
            if isinstance(got, Stack):
                self.stack = got
                got = got.get(0)
            self._volume = got
        return self._volume

    def caption(self) -> list[str]:
        """Lines under the thumbnail: patient, study date, series description."""
        i = self.info
        date = i.study_date
        if len(date) == 8 and date.isdigit():
            date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        series = i.series_description or (f"series {i.series_number}" if i.series_number else "")
        lines = [
            display_name(i.patient_name),
            " ".join(x for x in (date, i.modality) if x) or "(no date)",
            series or "(no description)",
        ]
        if self.stack_label:  # the stacks of one series look alike: say which this is
            lines[2] += f" · {self.stack_label}"
        return lines


def entries_from_volumes(volumes: Iterable[Volume]) -> list[SeriesEntry]:
    """Wrap Volumes already in memory as browser entries."""
    out = []
    for n, v in enumerate(volumes):
        key = v.info.series_instance_uid or f"volume-{n}"
        out.append(SeriesEntry(key, v.info, functools.partial(_same, v), _volume=v))
    return out


def _same(volume: Volume) -> Volume:
    return volume


def decode_thumbnail(data: bytes, size: int = 72) -> npt.NDArray[np.uint8]:
    """An encoded preview image as ``(size, size, 3)`` uint8, fitted and centred on black."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        rgb.thumbnail((size, size))
        canvas = Image.new("RGB", (size, size))
        canvas.paste(rgb, ((size - rgb.width) // 2, (size - rgb.height) // 2))
        return np.asarray(canvas, dtype=np.uint8).copy()


def thumbnail(volume: Volume, size: int = 72) -> npt.NDArray[np.uint8]:
    """A ``(size, size, 3)`` preview: the middle stored slice with the default window.

    The slice keeps its physical aspect ratio (pixel spacing) and is centred on black.
    """
    img = volume.voxels[volume.shape[0] // 2]
    w = volume.default_window()
    sx, sy = volume.spacing[0], volume.spacing[1]
    return _preview(img, (sx, sy), (w.level - w.width / 2.0, w.width), volume.invert, size)


def thumbnail_from_files(paths: list[str], size: int = 72) -> npt.NDArray[np.uint8] | None:
    """A preview from the middle file of a series, without loading the series.

    Reads one DICOM file (its first frame), applies its rescale, windows it over the 1st..99th
    percentile. None when the file cannot be read or decoded (the browser then shows a tile).
    """
    import pydicom
    from pydicom.pixels import apply_modality_lut

    if not paths:
        return None
    path = paths[len(paths) // 2]
    try:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            arr = arr[frames // 2]
        arr = apply_modality_lut(arr, ds) if int(ds.get("SamplesPerPixel", 1)) == 1 else arr
    except Exception as exc:  # any decoding problem only costs the thumbnail
        log.debug("no thumbnail from %s: %s", path, exc)
        return None
    sy, sx = (float(v) for v in ds.get("PixelSpacing", [1.0, 1.0]))
    grey = arr.astype(np.float32)
    sample = grey if grey.ndim == 2 else grey[..., :3].mean(axis=-1)
    lo, hi = (float(x) for x in np.percentile(sample, [1.0, 99.0]))
    invert = str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1"
    # colour as stored (8-bit over 255, not over this picture's own largest value)
    shown = arr if arr.ndim == 3 else grey
    return _preview(shown, (sx, sy), (lo, max(hi - lo, 1e-3)), invert, size)


def _preview(
    img: npt.NDArray[Any],
    spacing: tuple[float, float],
    window: tuple[float, float],
    invert: bool,
    size: int,
) -> npt.NDArray[np.uint8]:
    """Window ``img`` (rows, columns[, samples]) from ``window = (low, width)`` into a
    ``(size, size, 3)`` tile, keeping the physical aspect ratio. A colour ``img`` keeps its
    colours as stored (no window: as the viewer shows it, "colour, as stored"; 8-bit as it is,
    wider samples over their largest value)."""
    if img.ndim == 3:  # colour: its own colours, not a grey of them
        rgb = img[..., :3] if img.shape[2] >= 3 else np.repeat(img[..., :1], 3, axis=2)
        top = 255.0 if rgb.dtype == np.uint8 else max(float(rgb.max()), 1.0)
        shade = np.clip(rgb.astype(np.float32) / top, 0.0, 1.0)
    else:
        lo, width = window
        shade = np.clip((img.astype(np.float32) - lo) / width, 0.0, 1.0)
        if invert:
            shade = 1.0 - shade
    rows, cols = shade.shape[:2]
    sx, sy = spacing
    width_mm, height_mm = cols * sx, rows * sy
    scale = size / max(width_mm, height_mm)
    out_w = max(1, round(width_mm * scale))
    out_h = max(1, round(height_mm * scale))
    ri = np.minimum(((np.arange(out_h) + 0.5) / out_h * rows).astype(int), rows - 1)
    ci = np.minimum(((np.arange(out_w) + 0.5) / out_w * cols).astype(int), cols - 1)
    small = (shade[np.ix_(ri, ci)] * 255.0 + 0.5).astype(np.uint8)
    if small.ndim == 2:
        small = np.repeat(small[:, :, None], 3, axis=2)
    canvas = np.zeros((size, size, 3), np.uint8)
    y0, x0 = (size - out_h) // 2, (size - out_w) // 2
    canvas[y0 : y0 + out_h, x0 : x0 + out_w] = small
    return canvas


def _library_preview(library: Any, series_uid: str) -> npt.NDArray[np.uint8] | None:
    """A preview from the series' (or its stack's, ``UID~N``) stored files."""
    return thumbnail_from_files([str(item.path) for item in library.series_items(series_uid)])


def entries_from_assembly(assembly: Any) -> list[SeriesEntry]:
    """Entries for the image series an :func:`ownscan.core.assembly.assemble` found.

    Localizers are entries of their own (never left out); each series is loaded (pixels
    decoded) when first shown. The
    single images of one Series Instance UID (radiographs, secondary captures) are one entry
    whose images are stepped through like slices; a 4D series is one entry whose volumes are
    decoded as they are shown (:class:`~ownscan.core.viewer._stack.Stack`).
    """
    out = []
    images: dict[str, list[Any]] = {}  # the single images of each Series Instance UID
    labels = _stack_labels(assembly.series)
    for n, s in enumerate(assembly.series):
        uid = s.info.series_instance_uid
        if s.kind == "image" and uid:
            if uid in images:
                images[uid].append(s)
                continue
            images[uid] = [s]
        key = f"{uid or 'series'}#{s.part}#{n}"
        files = [f for f in s.files if Path(f).is_file()]  # origins that are plain files
        preview = functools.partial(thumbnail_from_files, files) if files else None
        # the voxels in a scratch file whose pages the render path gives back (_pages.py)
        load: Callable[[], Volume | Stack] = functools.partial(load_file_backed, s)
        if s.kind == "image" and uid:
            load = functools.partial(stack_of_series, images[uid])
        elif s.n_volumes > 1:
            load = functools.partial(stack_of_series, [s])
        # the marks are placed with the files of what the entry shows: every image of a stack
        sources = functools.partial(_listed, images[uid] if s.kind == "image" and uid else [s])
        out.append(
            SeriesEntry(
                key,
                s.info,
                load,
                thumbnail_files=preview,
                sources=sources,
                stack_label=labels.get(id(s), ""),
            )
        )
    return out


def _stack_labels(series: list[Any]) -> dict[int, str]:
    """For the 3D stacks of a Series Instance UID that holds several, which stack each is,
    by ``id()`` (each is an entry of its own: never merged, never left out)."""
    by_uid: dict[str, list[Any]] = {}
    for s in series:
        if s.kind == "volume":
            by_uid.setdefault(s.info.series_instance_uid, []).append(s)
    return {
        id(s): stack_label(s, n, len(group))
        for group in by_uid.values()
        if len(group) > 1
        for n, s in enumerate(group, 1)
    }


def entries_from_library(
    library: Any, series_uids: Iterable[str] | None = None
) -> list[SeriesEntry]:
    """Entries for the image series of a library (all, or those of ``series_uids``).

    The study's report (Structured Report text, or the list of PDF documents) goes with each
    series of that study. The library must stay open while the entries are used.
    """
    wanted = set(series_uids) if series_uids is not None else None
    # a wanted stack (UID~N) wants its series' entry for it
    bases = {split_id(u)[0] for u in wanted} if wanted is not None else None
    out: list[SeriesEntry] = []
    for study in library.studies():
        every = library.series(study.study_uid)
        states = [p for s in every if s.modality == "PR" for p in _presentation_states(library, s)]
        pr_series = {s.series_uid for s in every if s.modality == "PR"}
        series = [
            s
            for s in every
            if not s.is_document
            and s.series_uid not in pr_series
            and (bases is None or s.series_uid in bases)
        ]
        if not series:
            continue
        # documents: PDFs that came with an import and DICOM SR / encapsulated PDF instances
        found = library.documents(study.study_uid)
        reports = _report_text(found)
        image_uids = tuple(
            s.series_uid for s in every if not s.is_document and s.series_uid not in pr_series
        )
        documents = None
        if found or states:
            documents = StudyDocuments(
                tuple((d.kind, d.title or "", d.path) for d in found),
                tuple(states),
                functools.partial(_study_images, library, image_uids),
            )
        for s in series:
            info = SeriesInfo(
                patient_name=study.patient_name,
                patient_id=study.patient_id,
                study_instance_uid=study.study_uid,
                study_date=study.date,
                study_description=study.description,
                series_instance_uid=s.series_uid,
                series_number=s.number,
                series_description=s.description,
                modality=s.modality,
                body_part=s.body_part,
            )
            # a series of several 3D stacks (recorded at import) is an entry per stack,
            # ``UID~N``, as the page lists them; 2D pictures stay one entry stepped through
            for uid, label in _library_stacks(s, wanted):
                out.append(
                    SeriesEntry(
                        uid,
                        info,
                        functools.partial(_library_load, library, uid),
                        reports,
                        thumbnail_image=None if label else s.thumbnail,
                        thumbnail_files=functools.partial(_library_preview, library, uid),
                        documents=documents,
                        sources=functools.partial(_library_sources, library, uid),
                        stack_label=label,
                    )
                )
    return out


def _library_stacks(series: Any, wanted: set[str] | None) -> list[tuple[str, str]]:
    """The entries of a library series: ``(name, stack label)`` of each of its 3D stacks when
    the library recorded several (``UID~N``; those ``wanted`` names, or all when it names the
    series), else the series itself with no label."""
    uid = series.series_uid
    stacks = series.stacks or ()
    if len(stacks) < 2 or any(st.plane in ("image", "localizer", "frames") for st in stacks):
        return [(uid, "")]
    every = [(stack_id(uid, st.number), st.label) for st in stacks]
    if wanted is not None and uid not in wanted:
        every = [(name, label) for name, label in every if name in wanted]
    return every


def _library_load(library: Any, series_uid: str) -> Volume | Stack:
    """A library series as the viewer shows it: a 4D series, several 2D images or several
    stacks (each its own picture, with which of how many it is) as a stack, else its one
    volume (what ``Library.load_volume`` refuses, it refuses with its words)."""
    found = library.assemble(series_uid)
    shown = stacks_of(found.series)  # the 3D stacks, then the 2D pictures beside them
    if len(shown) == 1:
        if shown[0].n_volumes > 1:
            return stack_of_series(shown)
        return load_file_backed(shown[0])  # pages the render path gives back (_pages.py)
    if shown and all(s.kind == "image" for s in shown):
        return stack_of_series(shown)
    if len(shown) > 1:
        # several stacks under one UID (angled to three discs, a three-plane scout): each is
        # a picture of its own, stepped through with its words, never merged into one volume
        return Stack(
            "volumes",
            len(shown),
            lambda n: load_file_backed(shown[n]),
            captions=[stack_label(s, n, len(shown)) for n, s in enumerate(shown, 1)],
        )
    return library.load_volume(series_uid)  # raises LibraryError, naming the series


def _listed(series: list[Any]) -> list[Any]:
    return list(series)


def _library_sources(library: Any, series_uid: str) -> list[Any]:
    """A library series' stored files, assembled (localizers left out)."""
    return [s for s in library.assemble(series_uid).series if s.kind != "localizer"]


def _presentation_states(library: Any, series: Any) -> list[str]:
    """Paths of a PR series' presentation states (other instances are left alone)."""
    from ownscan.core.reports import DocumentKind, classify

    return [
        inst.path
        for inst in library.instances(series.series_uid)
        if classify(inst.path) is DocumentKind.PRESENTATION_STATE
    ]


def _study_images(library: Any, series_uids: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Every image of these series: ``{SOP Instance UID: (series UID, path)}``."""
    return {
        inst.sop_instance_uid: (uid, inst.path)
        for uid in series_uids
        for inst in library.instances(uid)
    }


def _report_text(documents: Iterable[Any]) -> str | None:
    """The text of a study's documents: SR content in full, PDFs by title and file."""
    parts: list[str] = []
    for doc in documents:
        if doc.kind == "sr":
            text = sr_text(Path(doc.path))
            parts.append(f"{doc.title or 'Report'}\n\n{text}" if text else doc.title)
        else:
            parts.append(f"PDF: {doc.title or 'document'}\n{doc.path}")
    joined = "\n\n".join(p for p in parts if p)
    return joined or None


_SR_HEAD = frozenset({"title", "meta"})  # report_lines' lines the viewer shows elsewhere


def sr_text(path: Path) -> str:
    """The readable text of a DICOM Structured Report: concept names and their values, nested
    as the report nests them (the one SR walk, :func:`ownscan.core.reports.report_lines`,
    without its title and patient/study lines, which the viewer shows elsewhere)."""
    from ownscan.core.reports import read_report, report_lines

    lines = report_lines(read_report(path))
    return "\n".join("  " * depth + text for depth, kind, text in lines if kind not in _SR_HEAD)
