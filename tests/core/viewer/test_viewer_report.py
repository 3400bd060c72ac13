"""The study's report beside the images: a DICOM Structured Report imported with the images."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from test_view_command import ct_folder  # noqa: F401 (the fixture)

from ownscan.core.viewer import Viewer, ViewerOptions, entries_from_library, sr_text

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
FINDING = "No acute intracranial abnormality. Small left frontal marker, 6 mm."


def _code(value: str, meaning: str) -> Sequence:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, "DCM", meaning
    return Sequence([c])


def write_sr(folder: Path, study_uid: str) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / "report.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = BASIC_TEXT_SR, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.PatientName, ds.PatientID = "Phantom^Viewer", "VIEW1"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240102", "101500", "1", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SR", 99, 1
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = _code("18748-4", "Diagnostic Imaging Report")
    finding = Dataset()
    finding.RelationshipType, finding.ValueType = "CONTAINS", "TEXT"
    finding.ConceptNameCodeSequence = _code("121071", "Finding")
    finding.TextValue = FINDING
    ds.ContentSequence = Sequence([finding])
    ds.save_as(path, enforce_file_format=True)
    return path


def test_sr_text(tmp_path: Path) -> None:
    p = write_sr(tmp_path, generate_uid())
    assert sr_text(p) == f"Finding: {FINDING}"


def test_report_is_shown_beside_the_images(
    xvfb: str,
    ct_folder: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    import pydicom

    from ownscan.core.library import open_library
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    study = pydicom.dcmread(next(ct_folder.glob("*.dcm")), stop_before_pixels=True)
    extra = tmp_path / "extra"
    extra.mkdir()
    write_sr(extra, study.StudyInstanceUID)
    with open_library(tmp_path / "lib") as lib:
        for src in (ct_folder, extra):
            imp = get_host().find_importer(str(src))
            assert lib.import_items(imp.iter_items(str(src), ImportOptions())).ok
        entries = entries_from_library(lib)
        assert [e.info.series_description for e in entries] == ["viewer test CT"]
        assert entries[0].report is not None and FINDING in entries[0].report
        with Viewer(entries, ViewerOptions(size=(900, 480))) as v:
            img = v.frame(capture=True)
            lay = v.layout()
            assert lay.report is not None
            r = lay.report
            panel = img[r.y + 30 : r.y + r.h, r.x : r.x + r.w].max(axis=-1)
            assert (panel > 150).mean() > 0.005  # light text on the dark panel
            for name, view in lay.views.items():
                assert view.x + view.w <= r.x, name


@pytest.mark.parametrize("kind", ["pdf"])
def test_pdf_documents_are_listed_by_title(kind: str) -> None:
    from ownscan.core.library import Document
    from ownscan.core.viewer._sources import _report_text

    doc = Document(kind, "Radiology report", "1.2", 1, 10, "/library/objects/ab/cd", "cd.zip!r.pdf")
    text = _report_text([doc])
    assert text is not None and "PDF: Radiology report" in text and "/library/objects" in text
    assert _report_text([]) is None


def test_browser_thumbnails_come_from_one_file_without_loading(
    xvfb: str,
    ct_folder: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from viewer_phantom import phantom

    from ownscan.core.assembly import assemble
    from ownscan.core.viewer import entries_from_assembly, entries_from_volumes
    from ownscan.core.viewer._sources import thumbnail_from_files

    files = sorted(str(p) for p in ct_folder.glob("*.dcm"))
    tile = thumbnail_from_files(files)
    assert tile is not None and tile.shape == (72, 72, 3) and tile.std() > 20
    (tmp_path / "junk.dcm").write_bytes(b"not dicom")
    assert thumbnail_from_files([str(tmp_path / "junk.dcm")]) is None

    from_folder = entries_from_assembly(assemble(ct_folder))
    entries = entries_from_volumes([phantom(n=16)]) + from_folder
    with Viewer(entries, ViewerOptions(size=(640, 480))) as v:
        for _ in range(3):
            v.frame()
        assert from_folder[0].key in v.panels.thumbs
        assert not from_folder[0].loaded  # the series itself was not decoded


def test_switching_to_an_unloaded_series_loads_it_in_the_background(
    xvfb: str,
    ct_folder: Path,  # noqa: F811
) -> None:
    from viewer_phantom import phantom

    from ownscan.core.assembly import assemble
    from ownscan.core.viewer import entries_from_assembly, entries_from_volumes

    from_folder = entries_from_assembly(assemble(ct_folder))
    with Viewer(entries_from_volumes([phantom(n=16)]) + from_folder, ViewerOptions()) as v:
        v.frame()
        v.request_series(1)  # returns at once: the series is decoded on a thread
        assert v.current == 0 and v.loading()
        v.wait_until_loaded(timeout=120)  # draws frames until it is shown
        assert v.current == 1 and from_folder[0].loaded and not v.loading()
        assert v.view.volume.info.series_description == "viewer test CT"


def test_a_series_that_fails_to_load_leaves_the_viewer_running(xvfb: str, tmp_path: Path) -> None:
    from viewer_phantom import phantom

    from ownscan.core.errors import OwnscanError
    from ownscan.core.viewer import SeriesEntry, entries_from_volumes
    from ownscan.core.volume import SeriesInfo, Volume

    def broken() -> Volume:
        raise OwnscanError(f"{tmp_path}/IM0007: truncated pixel data")

    bad = SeriesEntry("bad", SeriesInfo(series_description="damaged"), broken)
    with Viewer([*entries_from_volumes([phantom(n=16)]), bad], ViewerOptions()) as v:
        v.options.screenshot_dir = tmp_path / "missing" / "file.png"  # a file as folder: fails
        (tmp_path / "missing").mkdir()
        (tmp_path / "missing" / "file.png").write_bytes(b"")
        v.request_series(1)
        v.wait_until_loaded(timeout=60)
        assert v.current == 0 and "truncated pixel data" in v.status
        v._screenshot_requested = True
        v.frame()
        assert "screenshot not saved" in v.status
