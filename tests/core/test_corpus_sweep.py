"""Every DICOM file pydicom and the installed pydicom-data ship, read by ownscan and compared
with an independent decoder.

The reference: GDCM decompresses the file into implicit VR little endian (``gdcmconv --raw
-M``, Debian ``libgdcm-tools``), and pydicom's own native decoder reads that: so the codec is
GDCM's, the byte order is GDCM's and the bit handling is pydicom's, none of it ownscan's.
The rescale is applied here from the header (per frame for an enhanced image; an RT Dose
grid's Dose Grid Scaling), and the palette with pydicom's ``apply_color_lut`` on GDCM's
little-endian copy.

Each file is either compared (``same``: equal values; ``lossy``: a lossy codestream, where two
decoders may round differently), or it is in :data:`NOT_COMPARED` with the reason, what
ownscan must say of it, and whether GDCM reads it. A file added to pydicom-data and not in
the table is compared, so a new codec or oddity fails here until it is judged.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from niicompare import canonical, dcm2niix, ownscan_export
from pydicom.pixels import apply_color_lut

from ownscan.core import assemble

warnings.filterwarnings("ignore", module="pydicom")


def _installed() -> dict[str, Path]:
    """Every file pydicom finds without a network: its own test_files and pydicom-data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = pydicom.data.get_testdata_files("*")
    return {Path(p).name: Path(p) for p in found}


FILES = _installed()

# (what ownscan does with it, a regular expression its reason must match, GDCM reads it)
# "skipped": not an image, set aside with the reason (Assembly.skipped);
# "error": an image file that cannot be read (Assembly.errors);
# "refused": an image whose pixels cannot be decoded: Series.load raises ReadProblem.
NOT_COMPARED: dict[str, tuple[str, str, bool]] = {
    # not DICOM at all (pydicom's fixtures for other readers)
    "README.txt": ("skipped", "not a DICOM file", False),
    "crayons.icc": ("skipped", "not a DICOM file", False),
    "rtplan.dump": ("skipped", "not a DICOM file", False),
    "rtstruct.dump": ("skipped", "not a DICOM file", False),
    "test1.json": ("skipped", "not a DICOM file", False),
    "test_PN.json": ("skipped", "not a DICOM file", False),
    "zipMR.gz": ("skipped", "not a DICOM file", False),
    # a data set that lost its first byte: every element read is garbage (dcmtk and GDCM
    # refuse it; pydicom with force finds one bogus element)
    "no_meta.dcm": ("skipped", "not a DICOM file", False),
    # a big-endian data set without preamble or meta: nothing says it is DICOM (pydicom and
    # GDCM refuse it too); it holds no image anyway
    "ExplVR_BigEndNoMeta.dcm": ("skipped", "not a DICOM file", False),
    # DICOM without an image: RT objects, reports, a waveform, headers without pixel data
    "ExplVR_LitEndNoMeta.dcm": ("skipped", "without an image", False),
    "UN_sequence.dcm": ("skipped", "without an image", False),
    "empty_charset_LEI.dcm": ("skipped", "without an image", False),
    "no_meta_group_length.dcm": ("skipped", "without an image", False),
    "priv_SQ.dcm": ("skipped", "without an image", False),
    "reportsi.dcm": ("skipped", "without an image", False),
    "reportsi_with_empty_number_tags.dcm": ("skipped", "without an image", False),
    "rtplan.dcm": ("skipped", "without an image", False),
    # an RT Plan cut short: a value declared past the file's end (refused as cut, naming it)
    "rtplan_truncated.dcm": ("error", "file truncated: an element's value", False),
    "rtstruct.dcm": ("skipped", "without an image", False),
    "test-SR.dcm": ("skipped", "without an image", False),
    "waveform_ecg.dcm": ("skipped", "without an image", False),
    # segmentations: labels, not a scan (tests/core/test_decode.py)
    "liver.dcm": ("skipped", "segmentation", True),
    "liver_1frame.dcm": ("skipped", "segmentation", True),
    "liver_expb.dcm": ("skipped", "segmentation", True),
    "liver_expb_1frame.dcm": ("skipped", "segmentation", True),
    # pixel data without Rows/Columns: no image size (GDCM refuses them)
    "meta_missing_tsyntax.dcm": ("error", "Rows is missing", False),
    "nested_priv_SQ.dcm": ("error", "Rows is missing", False),
    # cut short inside the pixel data (GDCM decodes what is there: a partly blank picture)
    "MR_truncated.dcm": ("error", r"file truncated: pixel data needs 8192 bytes, only 8130", True),
    # a folder of DICOMDIR fixtures, named as a file: said so, never a traceback
    "dicomdirtests": ("error", "Is a directory", False),
    # the codestream's scan header is malformed ("scan start must be zero and scan stop 63"):
    # libjpeg refuses it, Pillow has no 12-bit JPEG; GDCM's IJG decodes it leniently
    "JPEG-lossy.dcm": ("refused", r"JPEG Extended .*misplaced marker segment", True),
    # a delimiter item inside the JPEG 2000 fragments (a pydicom fixture): GDCM refuses too
    "JPEG2000-embedded-sequence-delimiter.dcm": ("refused", "cannot decode the JPEG 2000", False),
    # its transfer syntax says JPEG Baseline but the pixel data is native bytes: the header
    # is untrue, and ownscan says so rather than guess (GDCM reads the bytes as native)
    "SC_rgb_jpeg.dcm": ("refused", "stored as plain bytes, not in fragments", True),
}

# files that hold the same image as another file in another encoding, where GDCM 3.0 gives no
# reference: ownscan must read the two equal (and the other is compared with GDCM or pydicom)
SAME_AS: dict[str, tuple[str, str]] = {
    "SC_rgb_expb_16bit_2frame.dcm": ("SC_rgb_16bit_2frame.dcm", "GDCM refuses it"),
    "SC_rgb_expb_32bit_2frame.dcm": ("SC_rgb_32bit_2frame.dcm", "GDCM refuses it"),
    "SC_rgb_rle_16bit_2frame.dcm": ("SC_rgb_16bit_2frame.dcm", "GDCM refuses it"),
    "SC_rgb_rle_32bit_2frame.dcm": ("SC_rgb_32bit_2frame.dcm", "GDCM refuses it"),
    # GDCM's RLE decoder puts the segments of 16/32-bit colour in the wrong channels (red
    # comes out green); pydicom's RLE decoder and the native copy agree with ownscan
    "SC_rgb_rle_16bit.dcm": ("SC_rgb_16bit.dcm", "GDCM swaps the channels"),
    "SC_rgb_rle_32bit.dcm": ("SC_rgb_32bit.dcm", "GDCM swaps the channels"),
    # GDCM turns big-endian 32-bit words into little-endian ones as 16-bit halves (1249000
    # became 250085395); pydicom's native reader and the little-endian copy agree with ownscan
    "rtdose_expb.dcm": ("rtdose.dcm", "GDCM swaps 32-bit words by halves"),
    "rtdose_expb_1frame.dcm": ("rtdose_1frame.dcm", "GDCM swaps 32-bit words by halves"),
    # the J2K stream is complete; only the sequence delimiter after it is missing (GDCM
    # refuses the file): the uncompressed original is the reference
    "emri_small_jpeg_2k_lossless_too_short.dcm": ("emri_small.dcm", "GDCM refuses it"),
}

# native files GDCM refuses (multi-frame 16/32-bit RGB): pydicom's own native reader, not
# ownscan's, is the reference
PYDICOM_REFERENCE = {"SC_rgb_16bit_2frame.dcm", "SC_rgb_32bit_2frame.dcm"}

# read with a visible warning about an untrue header, and compared where the reading is sure:
# name -> (a regular expression one of the series' warnings must match, frames compared)
WARNED: dict[str, tuple[str, int]] = {
    # Number of Frames '1A' (not a number) over pixel data for 15 frames: ownscan shows the
    # one frame the header can be taken to say and warns of both; GDCM takes 15
    "badVR.dcm": (r"NumberOfFrames '1A' is not a number", 1),
}

LOSSY = {
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.51",  # JPEG extended
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
}


def _gdcm_reference(
    path: Path, tmp: Path, *, pydicom_only: bool = False
) -> tuple[np.ndarray, pydicom.Dataset] | None:
    """The file's values as GDCM decodes them (modality values for grey images, RGB uint8 or
    the stored width for colour), frames in file order; None when GDCM refuses it.
    ``pydicom_only``: read the file itself with pydicom (a native file GDCM refuses)."""
    exe = shutil.which("gdcmconv")
    assert exe, "gdcmconv is not installed (Debian libgdcm-tools)"
    out = tmp / "gdcm.dcm"
    if pydicom_only:
        out = path
    elif subprocess.run([exe, "--raw", "-M", str(path), str(out)], capture_output=True).returncode:
        return None
    ds = pydicom.dcmread(out)
    with warnings.catch_warnings():  # excess padding or frames: pydicom's notes, not errors
        warnings.simplefilter("ignore")
        arr = ds.pixel_array
    if arr.ndim == (2 if ds.SamplesPerPixel == 1 else 3):  # one frame
        arr = arr[None]
    n = len(arr)
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        return (rgb >> 8).astype(np.uint8) if rgb.dtype != np.uint8 else rgb, ds
    if ds.SamplesPerPixel > 1:
        if arr.dtype != np.uint8:  # ownscan shows colour as 8 bits: the top 8 stored bits
            arr = (arr.astype(np.uint64) >> (ds.BitsStored - 8)).astype(np.uint8)
        return arr, ds
    if "ModalityLUTSequence" in ds:  # ownscan keeps stored values and the LUT beside them
        return arr, ds
    values = arr.astype(np.float64)
    shared = ds.get("SharedFunctionalGroupsSequence", [{}])[0]
    per = ds.get("PerFrameFunctionalGroupsSequence")
    for k in range(n):
        group = per[k] if per is not None else {}
        tr = (group.get("PixelValueTransformationSequence") or [None])[0] or (
            shared.get("PixelValueTransformationSequence") or [ds]
        )[0]
        slope = float(tr.get("RescaleSlope", 1) or 1)
        values[k] = values[k] * slope + float(tr.get("RescaleIntercept", 0) or 0)
    if ds.get("Modality") == "RTDOSE" and "DoseGridScaling" in ds:
        # PS3.3 C.8.8.3: an RT Dose grid's values are stored x Dose Grid Scaling (dose, not
        # the stored integers); none of these files has a rescale (asserted, not assumed)
        assert "RescaleSlope" not in ds and "RescaleIntercept" not in ds
        values = arr.astype(np.float64) * float(ds.DoseGridScaling)
    pad = ds.get("PixelPaddingValue")
    if ds.get("Modality") == "CT" and pad is not None:
        # ownscan's documented rule (docs/CORE.md): padding is air, -1024 HU, compared as the
        # pixels' 16 bits (GE writes US 63536 over signed pixels for -2000)
        stored = arr.astype(np.int64) & 0xFFFF
        values[stored == (int(pad) & 0xFFFF)] = -1024
    return values, ds


def _independent_order(ds: pydicom.Dataset, n: int) -> list[int] | None:
    """Frame order by position along the normal, from an enhanced image's per-frame groups."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence", [{}])[0]
    if per is None or len(per) != n:
        return None
    try:
        iop = np.array(
            (per[0].get("PlaneOrientationSequence") or shared.get("PlaneOrientationSequence"))[
                0
            ].ImageOrientationPatient,
            float,
        )
        normal = np.cross(iop[:3], iop[3:])
        pos = [float(np.dot(f.PlanePositionSequence[0].ImagePositionPatient, normal)) for f in per]
    except (AttributeError, IndexError, TypeError):
        return None
    return list(np.argsort(pos, kind="stable"))


def _ours(path: Path) -> tuple[np.ndarray, list[str]]:
    """The one series' voxels and warnings."""
    found = assemble([path])
    assert not found.errors and not found.skipped, (found.errors, found.skipped)
    assert len(found.series) == 1, found.series
    series = found.series[0]
    vol = series.load()
    assert series.load_errors == []
    return np.asarray(vol.voxels), list(vol.warnings)


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_installed_file(name: str, tmp_path: Path) -> None:
    path = FILES[name]
    if name in NOT_COMPARED:
        what, why, gdcm_reads = NOT_COMPARED[name]
        found = assemble([path])
        if what == "refused":
            assert len(found.series) == 1 and not found.errors, (found.errors, found.skipped)
            with pytest.raises(Exception, match=why) as raised:
                found.series[0].load()
            assert type(raised.value).__name__ == "ReadProblem"
            assert str(path) in str(raised.value)
        else:
            problems = found.skipped if what == "skipped" else found.errors
            assert not found.series and len(problems) == 1, (found.series, found.errors)
            assert re.search(why, problems[0].reason), problems[0]
            assert problems[0].origin == str(path)
        if path.is_file():
            assert (_gdcm_reference(path, tmp_path) is not None) == gdcm_reads
        return
    ours, said = _ours(path)
    if name in SAME_AS:
        other, why = SAME_AS[name]
        if why == "GDCM refuses it":  # once GDCM reads it, compare with GDCM instead
            assert _gdcm_reference(path, tmp_path) is None
        np.testing.assert_array_equal(ours, _ours(FILES[other])[0])
        return
    got = _gdcm_reference(path, tmp_path, pydicom_only=name in PYDICOM_REFERENCE)
    assert got is not None, f"GDCM refuses {name}: judge it in NOT_COMPARED or SAME_AS"
    ref, ds = got
    if name in WARNED:
        pattern, frames = WARNED[name]
        assert any(re.search(pattern, w) for w in said), said
        ref = ref[:frames]
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    order = _independent_order(ds, len(ref))
    if order is not None and not np.array_equal(ours, ref):
        ref = ref[order]
    meta = pydicom.dcmread(path, stop_before_pixels=True, force=True).file_meta
    lossy = meta.get("TransferSyntaxUID") in LOSSY
    if ours.dtype.kind == "f" or (ref.dtype.kind == "f" and (ref % 1).any()):
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)  # float32 vs float64
    elif not lossy:
        np.testing.assert_array_equal(ours, ref)
    else:
        # two JPEG decoders (libjpeg-turbo/openjpeg vs GDCM's IJG/openjpeg) may round the
        # IDCT and the YCbCr conversion differently: a few levels on a few pixels at most
        diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
        assert diff.max() <= 5 and (diff > 0).mean() < 0.1, (diff.max(), (diff > 0).mean())


def test_the_sweep_covers_the_installed_corpus() -> None:
    # every name in the tables is installed (a stale entry would hide nothing, but mislead)
    assert len(FILES) >= 150
    named = {
        *NOT_COMPARED,
        *SAME_AS,
        *(o for o, _ in SAME_AS.values()),
        *PYDICOM_REFERENCE,
        *WARNED,
    }
    assert named <= set(FILES), named - set(FILES)


# the CLI on a sample: images, colour, a refused one and non-images; one line, no traceback
CLI_SAMPLE = [
    "CT_small.dcm",
    "OBXXXX1A_expb.dcm",
    "rtdose.dcm",
    "JPEG-lossy.dcm",
    "rtplan.dcm",
    "MR_truncated.dcm",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_info_and_render_name_the_file(name: str, tmp_path: Path) -> None:
    path = FILES[name]
    exe = str(Path(sys.executable).parent / "ownscan")
    png = tmp_path / "r.png"
    for args in (["info", str(path)], ["render", str(path), "-o", str(png), "--backend", "cpu"]):
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
        text = done.stdout + done.stderr
        assert "Traceback" not in text, text
        if name in NOT_COMPARED and not (args[0] == "info" and NOT_COMPARED[name][0] == "refused"):
            # (info reads headers only: a file whose pixels cannot be decoded is listed)
            assert path.name in text and done.returncode != 0, text
        else:
            assert done.returncode == 0, text
    assert png.is_file() == (name not in NOT_COMPARED)


# -- geometry: every single grey image placed in the patient, against dcm2niix ---------------
# name -> why dcm2niix is no reference for it (its answer was checked by hand)
DCM2NIIX_DIFFERS = {
    # dcm2niix (v1.0.20220720, Debian) has no decoder for these syntaxes: it fails
    "MR2_J2KI.dcm": "dcm2niix cannot decode JPEG 2000 here",
    "MR2_J2KR.dcm": "dcm2niix cannot decode JPEG 2000 here",
    "MR_small_jpeg_ls_lossless.dcm": "dcm2niix cannot decode JPEG-LS here",
    # it writes the overlay plane as a second image
    "MR-SIEMENS-DICOM-WithOverlays.dcm": "dcm2niix writes the overlay as a second NIfTI",
    "examples_overlay.dcm": "dcm2niix writes the overlay as a second NIfTI",
    # Grid Frame Offset Vector: dcm2niix ignores it (15 planes 1 mm apart, with "unable to
    # determine slice direction"); PS3.3 C.8.8.3.2 puts them 5 mm apart (test_corpus_fixes)
    "rtdose.dcm": "dcm2niix ignores the Grid Frame Offset Vector",
    "rtdose_expb.dcm": "dcm2niix ignores the Grid Frame Offset Vector",
    "rtdose_rle.dcm": "dcm2niix ignores the Grid Frame Offset Vector",
    # one slice with Gantry/Detector Tilt -22: dcm2niix shears it into a non-orthogonal
    # affine (its slice column is not normal to the plane the Image Orientation gives) and
    # reads the J2K stream's unsigned values (median 6192 "HU"); ownscan, GDCM and pydicom
    # take the header's signed 13 bits (median -760 HU, air and tissue)
    "J2K_pixelrep_mismatch.dcm": "dcm2niix shears a single tilted slice, reads it unsigned",
}
# differences in value only, with the reason: ownscan's documented padding rule (docs/CORE.md:
# Pixel Padding Value -> -1024 HU; dcm2niix keeps -2000 stored, -3024 HU)
PADDED_CT = {"693_J2KI.dcm", "693_J2KR.dcm", "693_UNCI.dcm", "693_UNCR.dcm"}


def _placed_grey() -> list[str]:
    """The files compared above that hold one grey image placed in the patient (an Image
    Position and Orientation, or an enhanced image's per-frame planes), less those
    :data:`DCM2NIIX_DIFFERS` judges."""
    names = []
    for name, path in sorted(FILES.items()):
        if name in NOT_COMPARED or name in DCM2NIIX_DIFFERS:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        grey = ds.get("SamplesPerPixel", 1) == 1 and "PALETTE" not in ds.get(
            "PhotometricInterpretation", ""
        )
        legacy = "ImageOrientationPatient" in ds and "ImagePositionPatient" in ds
        if grey and (legacy or "PerFrameFunctionalGroupsSequence" in ds):
            names.append(name)
    return names


GEOMETRY = _placed_grey()


def test_geometry_covers_the_placed_images() -> None:
    # CT, MR (native, RLE, J2K, big-endian, enhanced), RT Dose: none left out unjudged
    assert len(GEOMETRY) >= 20 and set(DCM2NIIX_DIFFERS) <= set(FILES)
    assert {"CT_small.dcm", "MR_small_bigendian.dcm", "eCT_Supplemental.dcm"} <= set(GEOMETRY)


@pytest.mark.slow
@pytest.mark.parametrize("name", GEOMETRY)
def test_geometry_matches_dcm2niix(name: str, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    shutil.copy(FILES[name], tmp_path / "in")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    assert len(ours) == len(theirs) == 1, (ours, theirs)
    a, aff_a = canonical(ours[0])
    b, aff_b = canonical(theirs[0])
    assert a.shape == b.shape
    np.testing.assert_allclose(aff_a, aff_b, atol=0.01, rtol=0)  # orientation, L/R, spacing
    if name in PADDED_CT:
        a, b = a[a != -1024], b[a != -1024]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(FILES[name], stop_before_pixels=True, force=True)
    if ds.get("Modality") == "RTDOSE":
        # dcm2niix writes an RT Dose grid's stored integers; ownscan the dose they scale to
        # (docs/CORE.md, "RT Dose"; tests/core/test_truth5_rtdose.py)
        b = b * float(ds.DoseGridScaling)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-3)
