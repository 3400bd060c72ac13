"""Data for the exporter tests: a generated CT study of two linked series, dressed with the
identifying attributes a hospital file carries, and helpers that run the real tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from ctgen import write_ct_series

__all__ = ["IDENTIFYING", "Study", "dcmdump", "run", "write_ct_series", "write_study"]

# Values planted in the generated study that must not survive de-identification
IDENTIFYING = {
    "PatientName": "Doe^Jane^Q",
    "PatientID": "MRN-7731942",
    "OtherPatientIDs": "INS-55-0192",
    "PatientAddress": "12 Elm Street, Springfield",
    "PatientTelephoneNumbers": "+1-555-0100",
    "PatientBirthDate": "19580214",
    "PatientAge": "066Y",
    "InstitutionName": "St Example General Hospital",
    "InstitutionAddress": "1 Hospital Road, Springfield",
    "ReferringPhysicianName": "House^Gregory",
    "PerformingPhysicianName": "Quinn^Michaela",
    "OperatorsName": "Tech^Tom",
    "StationName": "CTSCANNER07",
    "DeviceSerialNumber": "SN-99-1234",
    "AccessionNumber": "ACC20240102",
    "StudyID": "STUDY4711",
    "StudyDescription": "CT CHEST Jane Doe follow-up",
    "SeriesDescription": "Doe lung 1mm",
    "ImageComments": "call Mrs Doe at home",
    "RequestingPhysician": "Wilson^James",
    "AdditionalPatientHistory": "smoker since 1975",
}
STUDY_DATE = "20240102"


@dataclass(frozen=True)
class Study:
    """The generated study: its folder, and the original UIDs by role."""

    root: Path
    files: dict[int, list[Path]]  # series number -> files in slice order
    study_uid: str
    frame_uid: str
    sop_uids: dict[int, list[str]]


def write_study(root: Path) -> Study:
    """Two CT series of one study (series 2 references series 1's images), with private
    attributes, an overlay and every value of :data:`IDENTIFYING` planted."""
    study_uid = pydicom.uid.generate_uid()
    frame_uid = pydicom.uid.generate_uid()
    files = {
        1: write_ct_series(root / "s1", n_slices=8, series_number=1, study_uid=study_uid,
                           frame_uid=frame_uid, seed=1),
        2: write_ct_series(root / "s2", n_slices=5, series_number=2, study_uid=study_uid,
                           frame_uid=frame_uid, seed=2, rows=40, cols=56),
    }  # fmt: skip
    sop_uids = {n: [str(pydicom.dcmread(f).SOPInstanceUID) for f in fs] for n, fs in files.items()}
    for n, fs in files.items():
        for k, f in enumerate(fs):
            ds = pydicom.dcmread(f)
            for kw, value in IDENTIFYING.items():
                setattr(ds, kw, value)
            ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
            ds.AcquisitionDateTime = STUDY_DATE + "101734.250000"
            ds.ContentTime = "101734"
            req = Dataset()
            req.RequestedProcedureID = "RP-0815"
            req.ScheduledProcedureStepID = "SPS-4711"
            ds.RequestAttributesSequence = Sequence([req])
            block = ds.private_block(0x0029, "ACME HOSPITAL", create=True)
            block.add_new(0x10, "LO", "Doe^Jane private copy")
            ds.add_new(0x60000010, "US", ds.Rows)
            ds.add_new(0x60003000, "OW", b"\x00" * 8)
            if n == 2:  # a reference to an image of series 1 (a localiser link, say)
                ref = Dataset()
                ref.ReferencedSOPClassUID = ds.SOPClassUID
                ref.ReferencedSOPInstanceUID = sop_uids[1][k]
                ds.ReferencedImageSequence = Sequence([ref])
            ds.save_as(f, enforce_file_format=True)
    return Study(root, files, study_uid, frame_uid, sop_uids)


def run(*args: str | Path) -> str:
    """Run a Debian tool; fail (never skip) when it is missing or fails. Its stdout."""
    exe = shutil.which(str(args[0]))
    assert exe is not None, f"{args[0]} is not installed (CI installs it: .ci/system-packages.txt)"
    proc = subprocess.run([exe, *map(str, args[1:])], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{args[0]} failed: {proc.stderr or proc.stdout}"
    return proc.stdout


def dcmdump(path: Path) -> str:
    """dcmtk's full dump of one file (every value, long ones too)."""
    return run("dcmdump", "+L", "+U8", str(path))
