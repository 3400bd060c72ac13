"""The dicom-anon exporter, checked with independent tools: dcmtk's dcmdump reads every value
of the output, dcm2niix converts it, and both must agree with the profile and the original."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from export_data import IDENTIFYING, STUDY_DATE, Study, dcmdump, run, write_study

from ownscan.core.assembly import assemble
from ownscan.core.cli import main
from ownscan.core.plugin_host import PluginHost
from ownscan.plugins._deid import Deidentifier, burned_in_reason
from ownscan.plugins.dicom_anon import DicomAnonExporter

OFFSET = -1234


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return write_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def anon(study: Study, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study exported through the command line, with the plugin's --date-offset."""
    out = tmp_path_factory.mktemp("anon") / "out"
    rc = main(["export", str(study.root), "--format", "dicom-anon", "-o", str(out),
               "--date-offset", str(OFFSET)])  # fmt: skip
    assert rc == 0
    return out


def _outputs(anon: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.glob("*.dcm")) for d in sorted(anon.iterdir())}


def test_is_a_registered_exporter_with_its_option():
    host = PluginHost()
    assert not host.broken
    assert host.exporter("dicom-anon").writes_folder


def test_dcmdump_finds_no_identifying_value(study: Study, anon: Path):
    outs = _outputs(anon)
    assert [len(v) for v in outs.values()] == [8, 5]
    originals = [u for uids in study.sop_uids.values() for u in uids]
    for f in (f for fs in outs.values() for f in fs):
        dump = dcmdump(f)
        for kw, value in IDENTIFYING.items():
            assert value not in dump, f"{kw} value {value!r} left in {f}"
        for forbidden in ("Doe", "ACME", STUDY_DATE, "RP-0815", "SPS-4711", study.study_uid,
                          study.frame_uid, *originals):  # fmt: skip
            assert forbidden not in dump, f"{forbidden!r} left in {f}"
        assert "(0029," not in dump  # private attributes
        assert "(6000,3000)" not in dump  # overlay data
        assert "PatientIdentityRemoved" in dump and "[YES]" in dump
        for code in ("113100", "113107"):
            assert f"[{code}]" in dump


def test_dates_move_by_the_offset_and_intervals_stay(anon: Path):
    ds = pydicom.dcmread(_outputs(anon)["S001"][0])
    want = (dt.date(2024, 1, 2) + dt.timedelta(days=OFFSET)).strftime("%Y%m%d")
    assert ds.StudyDate == ds.SeriesDate == ds.ContentDate == want
    assert ds.AcquisitionDateTime == want + "101734.250000"
    assert ds.ContentTime == "101734"  # a whole-day shift keeps the time of day
    assert ds.PatientBirthDate == ""
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "DeidentificationMethod" in ds


def test_uids_map_consistently_and_references_resolve(study: Study, anon: Path):
    outs = _outputs(anon)
    s1 = [pydicom.dcmread(f) for f in outs["S001"]]
    s2 = [pydicom.dcmread(f) for f in outs["S002"]]
    studies = {str(d.StudyInstanceUID) for d in s1 + s2}
    frames = {str(d.FrameOfReferenceUID) for d in s1 + s2}
    assert len(studies) == 1 and study.study_uid not in studies
    assert len(frames) == 1 and study.frame_uid not in frames
    assert len({str(d.SeriesInstanceUID) for d in s1}) == 1
    assert {str(d.SeriesInstanceUID) for d in s1}.isdisjoint(str(d.SeriesInstanceUID) for d in s2)
    new_s1 = [str(d.SOPInstanceUID) for d in s1]
    assert len(set(new_s1)) == 8
    for k, d in enumerate(s2):  # series 2, image k referenced image k of series 1
        ref = str(d.ReferencedImageSequence[0].ReferencedSOPInstanceUID)
        assert ref == new_s1[k]
        assert str(d.file_meta.MediaStorageSOPInstanceUID) == str(d.SOPInstanceUID)
    for d in s1 + s2:  # standard UIDs are not remapped
        assert d.SOPClassUID == pydicom.uid.CTImageStorage


def test_pixel_data_untouched_and_dcm2niix_sees_the_same_voxels(
    study: Study, anon: Path, tmp_path: Path
):
    outs = _outputs(anon)
    for n, name in ((1, "S001"), (2, "S002")):
        for a, b in zip(study.files[n], outs[name], strict=True):
            assert pydicom.dcmread(a).PixelData == pydicom.dcmread(b).PixelData
        run("dcm2niix", "-z", "n", "-f", "orig", "-o", tmp_path, study.files[n][0].parent)
        run("dcm2niix", "-z", "n", "-f", "anon", "-o", tmp_path, anon / name)
        orig, new = nib.load(tmp_path / "orig.nii"), nib.load(tmp_path / "anon.nii")
        np.testing.assert_array_equal(np.asarray(orig.dataobj), np.asarray(new.dataobj))
        np.testing.assert_allclose(orig.affine, new.affine, atol=1e-4)
        for f in tmp_path.iterdir():
            f.unlink()


def test_never_overwrites_and_a_second_export_goes_beside(study: Study, anon: Path, tmp_path):
    before = {p: p.read_bytes() for p in anon.rglob("*.dcm")}
    series = assemble(str(study.root)).series
    written = DicomAnonExporter().export_sources(series, anon, {"date_offset": OFFSET})
    assert {p.parent.name for p in written} == {"S003", "S004"}
    assert all(p.read_bytes() == data for p, data in before.items())
    # the same offset gives the same dates, but a new export never reuses the UIDs of another
    a = pydicom.dcmread(anon / "S001" / "IM00001.dcm")
    b = pydicom.dcmread(anon / "S003" / "IM00001.dcm")
    assert a.StudyDate == b.StudyDate
    assert a.StudyInstanceUID != b.StudyInstanceUID
    with pytest.raises(ValueError, match="must be a folder"):
        DicomAnonExporter().export_sources(series, written[0], {})
    assert not list(anon.rglob(".ownscan-*"))


def test_real_head_mr_is_deidentified_and_converts_to_the_same_voxels(
    mr_head_dir: Path, tmp_path: Path
):
    first = pydicom.dcmread(sorted(mr_head_dir.iterdir())[0])
    secrets = [str(first.PatientName), str(first.PatientBirthDate), str(first.StudyDescription),
               str(first.StudyID), str(first.StudyInstanceUID), str(first.SeriesInstanceUID),
               str(first.FrameOfReferenceUID), "gdcmanon"]  # fmt: skip
    out = tmp_path / "out"
    series = assemble(str(mr_head_dir)).series
    written = DicomAnonExporter().export_sources(series, out, {"date_offset": -30})
    assert len(written) == 384
    for f in written[::50]:
        dump = dcmdump(f)
        for value in secrets:
            assert value not in dump, f"{value!r} left in {f}"
        assert "[20130617]" in dump  # StudyDate 20130717 moved by 30 days
    run("dcm2niix", "-z", "n", "-f", "orig", "-o", tmp_path, mr_head_dir)
    run("dcm2niix", "-z", "n", "-f", "anon", "-o", tmp_path, out / "S001")
    orig, new = nib.load(tmp_path / "orig.nii"), nib.load(tmp_path / "anon.nii")
    np.testing.assert_array_equal(np.asarray(orig.dataobj), np.asarray(new.dataobj))
    np.testing.assert_allclose(orig.affine, new.affine, atol=1e-4)


@pytest.mark.parametrize(
    ("attrs", "expect"),
    [
        ({"Modality": "US"}, "modality US"),
        ({"Modality": "CT", "BurnedInAnnotation": "YES"}, "BurnedInAnnotation is YES"),
        ({"Modality": "CR"}, "modality CR"),
        ({"Modality": "CR", "BurnedInAnnotation": "NO"}, None),
        ({"Modality": "OT", "ImageType": ["DERIVED", "SECONDARY"]}, "modality OT"),
        ({"Modality": "CT", "ImageType": ["DERIVED", "SECONDARY"]}, None),
        ({"Modality": "MR"}, None),
    ],
    ids=["us", "flag-yes", "cr-unflagged", "cr-flag-no", "ot", "ct-reformat", "mr"],
)
def test_burned_in_reasons(attrs: dict, expect: str | None):
    ds = pydicom.Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    reason = burned_in_reason(ds)
    assert (reason is None) if expect is None else (expect in str(reason))


def test_burned_in_annotation_is_warned_and_pixels_still_untouched(study: Study, tmp_path, caplog):
    src = tmp_path / "us"
    src.mkdir()
    ds = pydicom.dcmread(study.files[1][0])
    ds.BurnedInAnnotation = "YES"
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    with caplog.at_level(logging.WARNING):
        (out,) = DicomAnonExporter().export_sources(assemble(str(src)).series, tmp_path / "out", {})
    assert "BurnedInAnnotation is YES" in caplog.text and "NOT removed" in caplog.text
    assert pydicom.dcmread(out).PixelData == ds.PixelData


def test_deidentifier_values():
    d = Deidentifier(-10, secret=b"k")
    assert d.shift_date("20240105") == "20231226"
    assert d.shift_datetime("20240105235959.5+0100") == "20231226235959.5+0100"
    assert d.shift_datetime("2024") == ""  # a year alone cannot move by days
    assert d.shift_date("garbage") == ""
    assert d.new_uid("1.2.840.10008.1.2.1") == "1.2.840.10008.1.2.1"
    new = d.new_uid("1.2.3")
    assert new.startswith("2.25.") and len(new) <= 64 and d.new_uid("1.2.3") == new
    assert Deidentifier(-10, secret=b"other").new_uid("1.2.3") != new


def test_volumes_are_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="original DICOM files"):
        DicomAnonExporter().export([], tmp_path, {})
