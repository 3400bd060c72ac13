"""The fast header reader agrees with pydicom on every file it accepts."""

from __future__ import annotations

import pydicom
import pytest
from library_dicomgen import ct_series, encapsulated_pdf
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from ownscan.core.dicom import NotDicom, ReadProblem
from ownscan.core.library._header import (
    _fast_values,
    _header,
    _pydicom_header,
    read_header,
)


def test_fast_reader_matches_pydicom_on_real_files(pydicom_files, mr_head_dir):
    fast_used = 0
    for path in [*pydicom_files.values(), *sorted(mr_head_dir.iterdir())[:5]]:
        data = path.read_bytes()
        fast = _fast_values(data)
        slow = _pydicom_header(data)
        assert read_header(data) == (slow if fast is None else _header(*fast, True)), path
        if fast is not None:
            fast_used += 1
            assert _header(*fast, True) == slow, path.name
    assert fast_used >= 15  # the fast reader handles the common files, compressed ones too


def test_fast_reader_with_sequences_charsets_and_multivalues(tmp_path):
    (p,) = ct_series(tmp_path, 1)
    ds = pydicom.dcmread(p)
    ds.PatientName = "Müller^Jürgen"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ref = pydicom.Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedImageSequence = [ref, ref]
    # (character set, implicit VR, name, read by the scanner): core's one text rule decodes
    # Latin-1 and UTF-8 that is all ASCII; UTF-8 beyond ASCII is pydicom's to decode
    cases = (
        ("ISO_IR 192", False, "Muller^Jurgen", True),
        ("ISO_IR 100", True, "Müller^Jürgen", True),
        ("ISO_IR 100", False, "Müller^Jürgen", True),
        ("ISO_IR 192", True, "Muller^Jurgen", True),
        ("ISO_IR 192", False, "Müller^Jürgen", False),
        ("ISO_IR 192", True, "Müller^Jürgen", False),
    )
    for charset, implicit, name, fast_read in cases:
        ds.SpecificCharacterSet = charset
        ds.PatientName = name  # encoded anew in this character set
        out = tmp_path / f"{charset}-{implicit}-{fast_read}.dcm"
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        )
        ds.save_as(out, enforce_file_format=True)
        # pydicom writes sequences with undefined length: the fast reader skips them
        data = out.read_bytes()
        fast = _fast_values(data)
        assert (fast is not None) == fast_read, out.name
        h = read_header(data)
        assert h == _pydicom_header(data)
        assert h.patient_name == name
        if fast is not None:
            assert _header(*fast, True) == h
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(tmp_path / "jp.dcm", enforce_file_format=True)
    data = (tmp_path / "jp.dcm").read_bytes()
    assert _fast_values(data) is None  # other character sets are left to pydicom
    assert read_header(data).patient_name == "Yamada^Tarou=山田^太郎"


def test_documents_go_through_pydicom_for_their_title(tmp_path):
    p = encapsulated_pdf(tmp_path / "doc.dcm", generate_uid())
    assert _fast_values(p.read_bytes()) is None
    assert read_header(p.read_bytes()).title == "Radiology report"


def test_files_without_preamble_and_non_dicom(tmp_path):
    (p,) = ct_series(tmp_path, 1)
    ds = pydicom.dcmread(p)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.preamble = None
    ds.save_as(tmp_path / "raw.dcm", enforce_file_format=False)
    raw = (tmp_path / "raw.dcm").read_bytes()
    assert raw[128:132] != b"DICM"
    assert read_header(raw).sop_instance_uid == ds.SOPInstanceUID
    for junk in (b"", b"%PDF-1.4 hello", bytes(range(256)) * 4):
        with pytest.raises(NotDicom):
            read_header(junk)


def test_a_file_cut_short_is_refused_not_stored(tmp_path, pydicom_files):
    (p,) = ct_series(tmp_path, 1, size=64)
    data = p.read_bytes()
    with pytest.raises(ReadProblem, match=r"truncated DICOM file: element \(7FE0,0010\) of 8192"):
        read_header(data[:-100])
    jpeg = pydicom_files["JPEG-LL.dcm"].read_bytes()
    assert read_header(jpeg).sop_instance_uid  # compressed (encapsulated) pixel data: fine
    with pytest.raises(ReadProblem, match=r"truncated DICOM file: element \(7FE0,0010\)"):
        read_header(jpeg[: len(jpeg) - 1000])
    # inside the header: cut inside the Study Instance UID's value (a fixed byte count could
    # fall between two elements, since generated UIDs differ in length), the element is named
    cut = data.index(b"\x20\x00\x0d\x00UI") + 10
    with pytest.raises(ReadProblem, match=r"truncated DICOM file: element \([0-9A-F]{4},"):
        read_header(data[:cut])
