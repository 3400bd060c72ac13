"""An enhanced frame's own Frame Type is read from the functional group that holds it.

``_frames._FRAME_TYPE_GROUPS`` named ``UltrasoundImageFrameTypeSequence`` and
``FrameTypeSequence``, which are no DICOM keywords: an enhanced US frame's Frame Type
(0008,9007), which the standard keeps in the US Image Description Sequence (0018,9806, the
US Image Description functional group macro; dcmtk's ``FGUSImageDescription`` reads it there
too), was never read. The table is checked against pydicom's data dictionary here.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from ctgen import write_ct_series
from mfgen import _item, enhanced_from_single
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_dict, tag_for_keyword
from pydicom.sequence import Sequence as DSequence

from ownscan.core import assemble
from ownscan.core.dicom._frames import _FRAME_TYPE_GROUPS, read_frames

ENHANCED_US_VOLUME = "1.2.840.10008.5.1.4.1.1.6.2"


def test_every_frame_type_group_is_a_dicom_sequence_keyword() -> None:
    for kw in _FRAME_TYPE_GROUPS:
        tag = tag_for_keyword(kw)
        assert tag is not None, f"{kw} is not a DICOM keyword"
        assert dictionary_VR(tag) == "SQ" and dictionary_VM(tag) == "1", kw
    # the US group: (0018,9806) US Image Description Sequence
    assert tag_for_keyword("USImageDescriptionSequence") == 0x00189806
    assert "USImageDescriptionSequence" in _FRAME_TYPE_GROUPS


def test_every_image_frame_type_group_of_the_dictionary_is_read() -> None:
    # each "... Frame Type Sequence" of the standard is the functional group that holds an
    # enhanced frame's Frame Type; MR Spectroscopy's frames are spectra, not images
    dictionary = {kw for kw in keyword_dict if kw.endswith("FrameTypeSequence")}
    assert {"CTImageFrameTypeSequence", "MRImageFrameTypeSequence"} <= dictionary
    assert dictionary - {"MRSpectroscopyFrameTypeSequence"} <= set(_FRAME_TYPE_GROUPS)
    assert set(_FRAME_TYPE_GROUPS) <= dictionary | {"USImageDescriptionSequence"}


def _enhanced_us(tmp_path: Path, frame_types: list[list[str]]) -> Path:
    """An Enhanced US Volume-like file (5 frames of a generated volume, the SOP class and
    modality of ultrasound), each frame's Frame Type in its US Image Description group; the
    file's own ImageType says otherwise (``DERIVED\\SECONDARY``), so only a frame type read
    from the group gives the frames' values."""
    files = write_ct_series(tmp_path / "single", n_slices=5)
    out = tmp_path / "enhanced" / "us.dcm"
    out.parent.mkdir()
    enhanced_from_single(files, out)
    ds = pydicom.dcmread(out)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_US_VOLUME
    ds.Modality = "US"
    ds.ImageType = ["DERIVED", "SECONDARY", "VOLUME", "NONE"]
    for item, frame_type in zip(ds.PerFrameFunctionalGroupsSequence, frame_types, strict=True):
        item.USImageDescriptionSequence = DSequence(
            [_item(FrameType=frame_type, VolumetricProperties="VOLUME")]
        )
    ds.save_as(out)
    return out


def test_an_enhanced_us_frame_type_is_read(tmp_path: Path) -> None:
    kinds = [["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]] * 5
    path = _enhanced_us(tmp_path / "a", kinds)
    frames = read_frames(path)
    assert [fr.image_type for fr in frames] == [("ORIGINAL", "PRIMARY", "VOLUME", "NONE")] * 5
    # and it decides what a frame is: a LOCALIZER frame is a localizer of its own
    kinds = [["ORIGINAL", "PRIMARY", "LOCALIZER", "NONE"]] + [
        ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ] * 4
    path = _enhanced_us(tmp_path / "b", kinds)
    found = assemble([path])
    assert sorted((s.kind, s.n_images) for s in found.series) == [("localizer", 1), ("volume", 4)]
