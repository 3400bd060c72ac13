"""The real vendor DICOM files that ship inside nibabel's wheel, read by ownscan as a user
would (``info``, ``info --json``, ``assemble`` + ``load``, ``export --format nifti``, ``render``)
and held against independent readers computed here: dcm2niix (geometry, voxel order, values,
sidecar) and nibabel's own DICOM reader (``nibabel.nicom.dicomwrappers``: it unpacks Siemens
mosaics from their CSA header, reads the b-value and b-vector from it, and gives the affine).
GDCM (``gdcmconv --raw``) decodes the one JPEG 2000 file as a third decoder.

Provenance and licence: the files are in ``nibabel/nicom/tests/data`` of the nibabel wheel
(nibabel is a dependency in pyproject.toml; MIT licence, its ``COPYING``), found here through
``nibabel.__file__``; nothing is copied into this repository and the gzipped ones are
decompressed into the test's temporary folder. nibabel uses them in its own
``nicom/tests/test_dicomwrappers.py`` and ``test_dicomreaders.py``, where it says the DWI
mosaics' affine "was shown to match our image spatially with an image from SPM DICOM
conversion" and takes the expected b-value and b-vector "from Guys and Matthew's SPM code".
Their headers say what they are: ``siemens_dwi_0/1000``, ``0.dcm``, ``1.dcm`` a Siemens Trio
(syngo MR B17) DTI of the MRC CBU Neuroimaging unit, 2010, its pixel data zeroed in the DWI
pair and replaced by a 16-bit ramp in a 256x256 image in ``0.dcm``/``1.dcm``;
``philips_mprage`` Philips' "R3.2.2 Enhanced Dicom Phantom" (enhanced MR, pixel data zeroed);
``decimal_rescale`` an anonymised Siemens qT1 map whose stored values are all 0 with a
rescale of 2 and -4096; ``slicethickness_empty_string`` an anonymised Siemens Prisma neck
MRA MIP (JPEG 2000 lossless, real pixels) whose SliceThickness is present but empty;
``csa_slice_norm`` a Siemens mosaic header without its pixel data.

Findings (each pinned below):

* ``0.dcm`` / ``1.dcm``: a 48-tile mosaic header over a 256x256 image, which 7 x 7 tiles do
  not divide (Siemens' tiles fill the grid exactly). ownscan cut it into 36x36 tiles that
  each took pixels from their neighbours and, with both files, stacked 49 "slices" of two
  mosaics; it now refuses each file, naming it, as nibabel does (it cannot reshape it).
  dcm2niix and GDCM floor the tile size and convert it: a picture that is not the scan.
* ``philips_mprage``: Philips keeps its private MR Scale Slope per frame (in (2005,140F));
  ownscan read it only at the top level, so the sidecar lacked PhilipsScaleSlope and
  ``--philips-float`` did nothing. It is now read per frame, equal to dcm2niix's.
* Sidecars (``--json``) against dcm2niix's field by field (``test_sidecar.compare_sidecars``):
  Philips' top-level PixelBandwidth 193 is a rounded legacy copy of the MR Imaging Modifier
  group's 192.559 (the public groups are now read first); the enhanced file's
  AcquisitionTime comes from AcquisitionDateTime; an InversionTime of 0 (no inversion) is
  left out; SAR 0.0026278 and TR 0.0075693 s were cut to 6 decimal places (now 9
  significant digits). dcm2niix appends "REAL" to ImageType; ours is the header's.
* The DWI pair's b-value is the nominal 1000 s/mm2 (as dcm2niix reads it), not nibabel's
  992.05, which is the trace of the CSA B_matrix (the effective b, imaging gradients
  included); the direction agrees with nibabel's in world space.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from niicompare import compare, dcm2niix, gdcm_transcode, ownscan_export, world_bvecs
from test_sidecar import compare_sidecars

from ownscan.core import assemble
from ownscan.core.cli import main

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "The DICOM readers are highly experimental"
    from nibabel.nicom import csareader
    from nibabel.nicom import dicomwrappers as nibw

DATA = Path(nib.__file__).parent / "nicom" / "tests" / "data"
LPS_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# every DICOM file of nibabel's nicom/tests/data and how it is judged here (the .bin/.txt
# files beside them are bare CSA headers and an ASCCONV text, not DICOM)
COMPARED = {
    "decimal_rescale.dcm": "dcm2niix (affine, values) and nibabel (affine, values)",
    "philips_mprage.dcm.gz": "dcm2niix (affine, values, Philips scaling) and nibabel (affine)",
    "siemens_dwi_0.dcm.gz": "with siemens_dwi_1000 as one series: dcm2niix and nibabel",
    "siemens_dwi_1000.dcm.gz": "with siemens_dwi_0 as one series: dcm2niix and nibabel",
    "slicethickness_empty_string.dcm": "nibabel (affine, values) and GDCM (values)",
}
# file: (what ownscan does, why it is not compared with an oracle's picture)
NOT_COMPARED = {
    "0.dcm": (
        "error",
        "a 48-tile mosaic over 256x256 pixels, which 7 x 7 tiles do not divide: refused as "
        "nibabel refuses it; dcm2niix and GDCM floor the tile to 36 and convert a picture "
        "whose slices overlap their neighbours",
    ),
    "1.dcm": ("error", "as 0.dcm (the same mosaic 3 mm further along the normal)"),
    "csa_slice_norm.dcm": (
        "skipped",
        "a Siemens mosaic header without pixel data: nothing to compare; nibabel and "
        "dcm2niix find no image either",
    ),
}


def _nicom_files() -> list[str]:
    return sorted(
        p.name
        for p in DATA.iterdir()
        if p.name.endswith((".dcm", ".dcm.gz")) and not p.name.startswith(".")
    )


def test_every_file_is_judged() -> None:
    """A file a later nibabel adds to its nicom test data is named here (skipped, so that a
    release of a dependency never turns CI red) until it is judged; one that goes makes
    its own test skip (``_copy``)."""
    unjudged = sorted(set(_nicom_files()) - {*COMPARED, *NOT_COMPARED})
    if unjudged:
        pytest.skip(f"nibabel {nib.__version__} ships files not judged here yet: {unjudged}")


@pytest.mark.parametrize("name", sorted(NOT_COMPARED))
def test_what_the_table_says_of_a_file_not_compared(name: str, tmp_path: Path) -> None:
    """Each file not compared is refused or skipped alone, as the table says, naming it."""
    f = _copy(name, tmp_path / "in")
    found = assemble(tmp_path / "in")
    outcome = "error" if found.errors else "skipped" if found.skipped else "series"
    assert outcome == NOT_COMPARED[name][0], (found.errors, found.skipped)
    assert not found.series
    assert [p.origin for p in (found.errors or found.skipped)] == [str(f)]


def _copy(name: str, folder: Path) -> Path:
    """nibabel's file ``name`` into ``folder`` (decompressed when gzipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = DATA / name
    if not src.is_file():  # a later nibabel without it
        pytest.skip(f"nibabel {nib.__version__} no longer ships {name}")
    if name.endswith(".gz"):
        dst = folder / name[:-3]
        dst.write_bytes(gzip.decompress(src.read_bytes()))
    else:
        dst = folder / name
        shutil.copyfile(src, dst)
    return dst


def _wrapper(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nibw.wrapper_from_file(str(path))


def _data(w: Any) -> np.ndarray:
    """nibabel's voxels of wrapper ``w`` (its warnings silenced: for the Philips file it says
    it cannot find the private scale, which it looks for outside (2005,140F))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(w.get_data())


def _nibabel_nifti(arrays: list[np.ndarray], affine_lps: np.ndarray, out: Path) -> Path:
    """nibabel's reading as a NIfTI file (RAS), so that niicompare's canonical comparison
    holds ours against it whatever the two voxel orders."""
    data = arrays[0] if len(arrays) == 1 else np.stack(arrays, axis=-1)
    if data.ndim == 2:
        data = data[:, :, None]
    nib.Nifti1Image(np.asarray(data, dtype=np.float64), LPS_RAS @ affine_lps).to_filename(out)
    return out


def _info_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    got: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert main(["info", str(path)]) == 0
    capsys.readouterr()
    return got


def _render(src: Path, out: Path, *extra: str) -> None:
    assert main(["render", str(src), "-o", str(out), "--annotate", "--backend", "cpu", *extra]) == 0
    assert out.stat().st_size > 0


# -- the Siemens DWI pair (b 0 and b 1000), one series of two mosaics ------------------------


def test_siemens_dwi_pair_against_dcm2niix_and_nibabel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [_copy(n, tmp_path / "in") for n in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz")]
    info = _info_json(tmp_path / "in", capsys)
    (s_info,) = info["series"]
    assert not info["errors"] and s_info["n_volumes"] == 2
    found = assemble(tmp_path / "in")
    (s,) = found.series
    assert s.dimension is not None

    wrappers = [_wrapper(f) for f in files]
    arrays = [_data(w) for w in wrappers]
    # nibabel unpacks the same slices from the CSA header (its array is rows, columns,
    # slices); ours is (slices, rows, columns)
    assert s.shape == tuple(np.array(arrays[0].shape)[[2, 0, 1]])
    for w in wrappers:
        np.testing.assert_allclose(w.affine, wrappers[0].affine, atol=1e-6)
    for v in range(2):
        vol = s.load(volume=v)
        np.testing.assert_array_equal(vol.voxels, np.transpose(arrays[v], (2, 0, 1)))

    ours = ownscan_export(tmp_path / "in", tmp_path / "ours")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert len(ours) == len(theirs) == 1
    compare(ours[0], theirs[0])  # affine within 0.01 mm, voxels equal, in canonical order
    ref = _nibabel_nifti(arrays, wrappers[0].affine, tmp_path / "nibabel.nii")
    compare(ours[0], ref)

    # b-values: ours are Siemens' nominal B_value of the CSA header (read here by nibabel's
    # csareader), as dcm2niix reads them; nibabel's b_value is the trace of the CSA B_matrix,
    # the effective b (imaging gradients included), within 1 % of it
    nominal = [
        float(csareader.get_scalar(csareader.get_csa_header(w.dcm_data), "B_value"))
        for w in wrappers
    ]
    bvals = np.loadtxt(ours[0].with_suffix(".bval"))
    np.testing.assert_array_equal(bvals, nominal)
    assert list(s.dimension.b_values) == nominal
    np.testing.assert_allclose([w.b_value for w in wrappers], nominal, rtol=0.01, atol=1e-6)
    # b-vector of b 1000 in the world: nibabel's is in its voxel axes (rows, columns,
    # slices), turned into LPS by its affine's directions, then RAS; a diffusion direction
    # and its opposite are the same measurement
    a = wrappers[1].affine[:3, :3]
    lps = (a / np.linalg.norm(a, axis=0)) @ np.asarray(wrappers[1].b_vector)
    ras = lps * [-1.0, -1.0, 1.0]
    world = world_bvecs(ours[0])
    np.testing.assert_allclose(world[0], 0.0, atol=1e-9)
    assert abs(float(world[1] @ ras)) == pytest.approx(1.0, abs=1e-4)
    # the .bvec against the CSA DiffusionGradientDirection (LPS) itself
    grad = csareader.get_vector(
        csareader.get_csa_header(wrappers[1].dcm_data), "DiffusionGradientDirection", 3
    )
    assert abs(float(world[1] @ (grad * [-1.0, -1.0, 1.0]))) == pytest.approx(1.0, abs=1e-6)

    # the sidecar field by field against dcm2niix's (phase encoding compared in the world:
    # dcm2niix's rows run the other way from ours, so its j- is j here)
    ours_j = ownscan_export(tmp_path / "in", tmp_path / "ours_json", "--json")
    theirs_j = dcm2niix(tmp_path / "in", tmp_path / "theirs_json", "-b", "y")
    side = compare_sidecars(ours_j[0], theirs_j[0])
    assert side["PhaseEncodingDirection"] == "j"

    _render(tmp_path / "in", tmp_path / "dwi.png", "--mode", "mpr", "--plane", "axial")


# -- 0.dcm, 1.dcm: a mosaic header over an image its tiles do not divide ----------------------


@pytest.mark.parametrize("names", [("0.dcm",), ("1.dcm",), ("0.dcm", "1.dcm")])
def test_mosaic_that_its_tiles_do_not_divide_is_refused(
    names: tuple[str, ...], tmp_path: Path
) -> None:
    files = [_copy(n, tmp_path / "in") for n in names]
    for f in files:
        ds = pydicom.dcmread(f)
        n = csareader.get_n_mosaic(csareader.get_csa_header(ds))
        side = int(np.ceil(np.sqrt(n)))
        assert ds.Rows % side and ds.Columns % side  # what makes the file contradict itself
        with pytest.raises(ValueError, match="reshape"):  # nibabel refuses it too
            _data(_wrapper(f))
    found = assemble(tmp_path / "in")
    assert not found.series
    assert sorted(p.origin for p in found.errors) == sorted(str(f) for f in files)
    for problem in found.errors:
        assert "does not fit 256x256" in str(problem) and "multiples of 7" in str(problem)
    # one line naming each file, no traceback, exit status 2 (no series)
    assert main(["info", str(tmp_path / "in")]) == 2
    # dcm2niix converts it anyway (the reason it is not the reference here)
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs")
    assert theirs and nib.load(theirs[0]).shape[:3] == (36, 36, 48)


# -- csa_slice_norm.dcm: a mosaic header without pixel data -----------------------------------


def test_header_without_pixel_data_is_skipped_like_the_oracles(tmp_path: Path) -> None:
    f = _copy("csa_slice_norm.dcm", tmp_path / "in")
    found = assemble(tmp_path / "in")
    assert not found.series and not found.errors
    ((path, why),) = [(p.origin, p.reason) for p in found.skipped]
    assert path == str(f) and "without an image" in why
    with pytest.raises(nibw.WrapperError, match="Cannot find data"):
        _data(_wrapper(f))
    exe = shutil.which("dcm2niix")
    assert exe
    r = subprocess.run(
        [exe, "-o", str(tmp_path), str(tmp_path / "in")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No valid DICOM images" in r.stdout + r.stderr
    assert not list(tmp_path.glob("*.nii*"))


# -- decimal_rescale.dcm ----------------------------------------------------------------------


def test_decimal_rescale_against_dcm2niix_and_nibabel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _copy("decimal_rescale.dcm", tmp_path / "in")
    info = _info_json(f, capsys)
    assert [s["shape_zyx"] for s in info["series"]] == [[1, 96, 128]]
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    w = _wrapper(f)
    ref = _data(w)  # rescaled by nibabel (slope 2, intercept -4096)
    np.testing.assert_array_equal(vol.voxels[0], ref)
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours", "--json")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs", "-b", "y")
    compare(ours[0], theirs[0])
    # dcm2niix appends the complex part it reads from Siemens' private header to ImageType
    # ("REAL" after the file's ORIGINAL\PRIMARY\R\ND); ours is the header's value. Held
    # as that one addition, then every other field compared
    side = json.loads(theirs[0].with_suffix(".json").read_text())
    header_type = [str(v).upper() for v in pydicom.dcmread(f).ImageType]
    assert side["ImageType"] == [*header_type, "REAL"]
    side["ImageType"] = header_type
    theirs[0].with_suffix(".json").write_text(json.dumps(side))
    compare_sidecars(ours[0], theirs[0])
    # nibabel's affine of a single slice takes the CSA slice normal as its third column; ours
    # (and dcm2niix's) takes row x column, which here is the same direction
    compare(ours[0], _nibabel_nifti([ref], w.affine, tmp_path / "nibabel.nii"))
    _render(f, tmp_path / "decimal.png")


# -- slicethickness_empty_string.dcm ----------------------------------------------------------


def test_empty_slice_thickness_against_nibabel_and_gdcm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _copy("slicethickness_empty_string.dcm", tmp_path / "in")
    assert pydicom.dcmread(f).SliceThickness in ("", None)
    info = _info_json(f, capsys)
    (s_info,) = info["series"]
    assert s_info["shape_zyx"] == [1, 384, 384] and not info["errors"]
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    # one image: its third spacing is not a measurement; 1 mm as nibabel's fallback
    w = _wrapper(f)
    assert vol.spacing[2] == w.voxel_sizes[2] == 1.0
    # values: nibabel (pydicom's JPEG 2000 decoder) and GDCM's own decoder
    ref = _data(w)
    np.testing.assert_array_equal(vol.voxels[0], ref)
    if shutil.which("gdcmconv"):
        gdcm_transcode(tmp_path / "in", tmp_path / "raw", ["gdcmconv", "--raw"])
        raw = pydicom.dcmread(tmp_path / "raw" / f.name).pixel_array
        np.testing.assert_array_equal(vol.voxels[0], raw)
    # geometry: every pixel centre where nibabel puts it (its array is rows, columns)
    rows, cols = np.mgrid[0 : ref.shape[0], 0 : ref.shape[1]]
    ijk = np.stack([rows.ravel(), cols.ravel(), np.zeros(rows.size), np.ones(rows.size)])
    theirs_mm = (w.affine @ ijk)[:3]
    ours_mm = (vol.affine @ ijk[[1, 0, 2, 3]])[:3]
    np.testing.assert_allclose(ours_mm, theirs_mm, atol=1e-3)
    # the third axis: nibabel takes the CSA SliceNormalVector, which for this MIP (a
    # projection image) points against row x column; ours is row x column (PS3.3 gives one
    # image no other normal; dcm2niix's rule too). The same line, so the same single plane
    assert abs(float(w.affine[:3, 2] @ vol.affine[:3, 2])) == pytest.approx(1.0, abs=1e-6)
    # dcm2niix (1.0.20220720) cannot read this file ("Illegal DICOM tag fff8,ffff" in the
    # icon image sequence, then "No valid DICOM images"): nibabel and GDCM are the oracles
    _render(f, tmp_path / "mip.png")


# -- philips_mprage.dcm.gz: Philips enhanced MR -----------------------------------------------


def test_philips_enhanced_against_dcm2niix_and_nibabel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _copy("philips_mprage.dcm.gz", tmp_path / "in")
    info = _info_json(f, capsys)
    (s_info,) = info["series"]
    w = _wrapper(f)
    ref = _data(w)
    assert sorted(s_info["shape_zyx"]) == sorted(ref.shape)
    # nibabel's wrapper keeps the stored values (its data is zero here: nibabel zeroed the
    # pixels to keep its wheel small), so the values held are the ones the header scales
    assert not ref.any()
    # ours holds the display values by default, as dcm2niix -p n (docs/CORE.md)
    ours = ownscan_export(tmp_path / "in", tmp_path / "ours", "--json")
    theirs = dcm2niix(tmp_path / "in", tmp_path / "theirs", "-b", "y", "-p", "n")
    compare(ours[0], theirs[0])
    compare(ours[0], _nibabel_nifti([ref], w.affine, tmp_path / "nibabel.nii"))
    # Philips' scaling, read per frame from the private (2005,140F), and every other field
    # dcm2niix writes (compare_sidecars): PixelBandwidth from the MR Imaging Modifier group,
    # 192.559, not Philips' rounded top-level copy 193; AcquisitionTime from
    # AcquisitionDateTime; no InversionTime, which Philips writes as 0 in its private item of
    # a TFE without inversion recovery
    mine = compare_sidecars(ours[0], theirs[0])
    ref_side = json.loads(theirs[0].with_suffix(".json").read_text())
    for key in ("PhilipsRescaleSlope", "PhilipsRescaleIntercept", "PhilipsScaleSlope"):
        assert mine[key] == pytest.approx(ref_side[key], rel=1e-5, abs=1e-9), key
    assert mine["UsePhilipsFloatNotDisplayScaling"] == 0 and "InversionTime" not in mine
    # --philips-float: Philips' floating point values, FP = (SV * RS + RI) / (RS * SS), as
    # dcm2niix -p y; the factor computed from dcm2niix's own sidecar
    (s,) = assemble(tmp_path / "in").series
    vol = s.load()
    factor = 1.0 / (ref_side["PhilipsRescaleSlope"] * ref_side["PhilipsScaleSlope"])
    np.testing.assert_allclose(vol.extra["philips_fp_scale"], factor, rtol=1e-5)
    fl = ownscan_export(tmp_path / "in", tmp_path / "float", "--json", "--philips-float")
    fl_theirs = dcm2niix(tmp_path / "in", tmp_path / "float_theirs", "-b", "y", "-p", "y")
    compare(fl[0], fl_theirs[0])
    assert compare_sidecars(fl[0], fl_theirs[0])["UsePhilipsFloatNotDisplayScaling"] == 1
    assert b"Philips FP scaling" in nib.load(fl[0]).header["descrip"].tobytes()
    _render(f, tmp_path / "philips.png", "--mode", "mpr", "--plane", "axial")
