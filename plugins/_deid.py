"""De-identification of DICOM datasets: PS3.15 Annex E, Basic Application Level
Confidentiality Profile, with the Retain Longitudinal Temporal Information with Modified Dates
Option (every date moved by one fixed number of days) and consistent UID remapping.

The table (which attribute gets which action: X remove, Z empty, D dummy, U new UID, and the
combined codes) is Table E.1-1 of the standard as the ``dicom-anonymizer`` package
(KitwareMedical) publishes it, generated from the standard's own XML (edition 2026c); only the
table is taken from it. Its engine does not meet the profile as we need it (every date becomes
``00010101`` instead of a fixed shift, and its UID map is one module-level dictionary shared by
every caller), so the actions are applied here. See :mod:`ownscan.plugins.dicom_anon` for why
dicognito and deid were not used.

Choices where the table leaves one (combined codes):

- ``X/Z``, ``X/Z/D``, ``Z/D``: Z (the attribute stays, empty), so Type 2 attributes stay present,
  except the Patient ID (Z/D): D, a pseudonym ``ANON`` + 12 hex digits of a keyed hash, the
  same for one patient throughout the export (a DICOMDIR needs a Patient ID);
  ``X/D``: D (a dummy value), so Type 1 attributes stay valid. A dummy never carries the
  original's content.
- ``X/Z/U*`` (Referenced / Source Image Sequence): kept, with every UID inside remapped, so the
  references still resolve inside the export.
- Dates (``DA``, ``DT``) anywhere, listed or not, are moved by the fixed offset (the option's
  "C" action) instead of being emptied; times of day are kept (a whole-day shift leaves them
  right). The Patient's Birth Date is emptied all the same (Basic Profile: Z).
- A sequence whose action is D (Content Sequence, Graphic Annotation Sequence...) is emptied
  (no item), since a dummy item could not be valid anyway.
- Every private attribute, curve (50xx), overlay data and comments (60xx,3000/4000) is removed.
- Every ``UI`` value that is not a UID of the standard itself (SOP classes, transfer syntaxes,
  coding schemes: ``1.2.840.10008.*``) is remapped, listed or not; the new UID is
  ``2.25.<128 bits of SHA-256 over a per-export secret and the old UID>``, so the same UID maps
  to the same new one throughout an export (series stay linked, references resolve) and cannot
  be turned back without the secret, which is never written.
- Attributes that the table does not list are kept (as the profile says), sequences recursed.

Pixel data are never touched: burned-in text is reported, not removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["Deidentifier", "burned_in_reason", "profile_actions"]

# What the de-identification method attributes say (LO, VM 1-n: each value at most 64
# characters) and their codes (PS3.16 CID 7050)
METHOD = (
    "ownscan",
    "PS3.15 Annex E Basic Application Level Confidentiality Profile",
    "Retain Longitudinal Temporal Info with Modified Dates Option",
)
CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)
_STANDARD_UID_ROOT = "1.2.840.10008."
# reconstructed slices: DERIVED\\SECONDARY there means reformatted, not a screenshot
_CROSS_SECTIONAL = {"CT", "MR", "PT", "NM"}
_BIRTH_DATE = 0x00100030
_PATIENT_ID = 0x00100020
_TABLE_EDITION = "dicomfields_2026c"

_COMBINED = {  # table category -> the action applied (see the module docstring)
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z",
    "X_Z_TAGS": "Z",
    "X_D_TAGS": "D",
    "X_Z_D_TAGS": "Z",
    "X_Z_U_STAR_TAGS": "K",  # keep, UIDs inside remapped
}

_ACTIONS: tuple[dict[int, str], list[tuple[int, int, int, int, str]]] | None = None


def profile_actions() -> tuple[dict[int, str], list[tuple[int, int, int, int, str]]]:
    """The table as ``({tag: action}, [(group, element, group_mask, element_mask, action)])``:
    single attributes, then the repeating groups (curves, overlays) given with masks."""
    global _ACTIONS
    if _ACTIONS is None:
        try:
            from dicomanonymizer.dicomfields_selector import (
                dicom_anonymization_database_selector,
            )
        except ImportError as exc:  # a dependency of ownscan: a broken installation
            raise ImportError(
                "the dicom-anon exporter needs the dicom-anonymizer package "
                "(pip install dicom-anonymizer)"
            ) from exc
        table = dicom_anonymization_database_selector(_TABLE_EDITION)
        single: dict[int, str] = {}
        masked: list[tuple[int, int, int, int, str]] = []
        for category, action in _COMBINED.items():
            for entry in table[category]:
                if len(entry) == 2:
                    single[(entry[0] << 16) | entry[1]] = action
                else:
                    masked.append((*entry, action))
        _ACTIONS = (single, masked)
    return _ACTIONS


def _action_of(tag: int) -> str | None:
    single, masked = profile_actions()
    action = single.get(tag)
    if action is not None:
        return action
    group, element = tag >> 16, tag & 0xFFFF
    for g, e, gm, em, act in masked:
        if group & gm == g & gm and element & em == e & em:
            return act
    return None


def burned_in_reason(ds: Dataset) -> str | None:
    """Why the pixels of ``ds`` may show identifying text (None when nothing suggests it):
    BurnedInAnnotation YES, or a modality / image type that usually carries it (US, secondary
    capture, screenshots, CR/DX without BurnedInAnnotation NO)."""
    burned = str(ds.get("BurnedInAnnotation", "") or "").upper()
    if burned == "YES":
        return "BurnedInAnnotation is YES"
    if burned == "NO":
        return None
    modality = str(ds.get("Modality", "") or "").upper()
    sop_class = str(ds.get("SOPClassUID", "") or "")
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if modality in {"US", "SC", "XC", "ES", "OT", "DOC"}:
        return f"modality {modality} images often carry burned-in text"
    if sop_class.startswith("1.2.840.10008.5.1.4.1.1.7"):  # Secondary Capture (all kinds)
        return "a secondary capture image (often a screenshot with burned-in text)"
    if modality not in _CROSS_SECTIONAL and (
        "SECONDARY" in image_type or "SCREEN SAVE" in image_type
    ):
        return "ImageType says SECONDARY (often a screenshot with burned-in text)"
    if modality in {"CR", "DX", "MG", "IO", "PX", "RF", "XA"}:
        return (
            f"modality {modality} images sometimes carry burned-in text, BurnedInAnnotation absent"
        )
    return None


class Deidentifier:
    """Applies the profile to datasets, with one UID map and one date offset for all of them.

    Parameters
    ----------
    date_offset_days
        Days added to every date (negative: earlier). Intervals between dates are kept.
    secret
        Key of the UID remapping (random when None; the same secret and UID give the same new
        UID, so two exports with the same secret stay consistent with each other).
    """

    def __init__(self, date_offset_days: int, secret: bytes | None = None) -> None:
        self.offset = dt.timedelta(days=int(date_offset_days))
        self._secret = secret if secret is not None else os.urandom(32)
        self.uids: dict[str, str] = {}

    # -- values -----------------------------------------------------------------------------
    def new_uid(self, uid: str) -> str:
        """The UID that replaces ``uid`` in this export (standard UIDs are returned as is)."""
        uid = str(uid).strip().rstrip("\0")
        if not uid or uid.startswith(_STANDARD_UID_ROOT):
            return uid
        new = self.uids.get(uid)
        if new is None:
            digest = hashlib.sha256(self._secret + uid.encode("ascii", "replace")).digest()
            new = f"2.25.{int.from_bytes(digest[:16], 'big')}"
            self.uids[uid] = new
        return new

    def pseudonym(self, patient_id: str) -> str:
        """The Patient ID's dummy (Z/D: D, as a DICOMDIR's PATIENT record needs one): the same
        for the same patient throughout the export, different for different patients."""
        digest = hashlib.sha256(self._secret + b"patient:" + patient_id.encode("utf-8"))
        return "ANON" + digest.hexdigest()[:12].upper()

    def shift_date(self, value: str) -> str:
        """``YYYYMMDD`` moved by the offset; a value that is not a full date is emptied."""
        value = value.strip()
        try:
            day = dt.datetime.strptime(value[:8], "%Y%m%d").date()
        except ValueError:
            return ""
        return (day + self.offset).strftime("%Y%m%d")

    def shift_datetime(self, value: str) -> str:
        """A DT value with its date part moved (time, fraction and zone kept)."""
        value = value.strip()
        if len(value) < 8:
            return ""  # a year or a month alone cannot be moved by days: removed
        date = self.shift_date(value[:8])
        return date + value[8:] if date else ""

    # -- datasets ---------------------------------------------------------------------------
    def apply(self, ds: Dataset) -> None:
        """De-identify ``ds`` in place (file meta included) and add the method attributes."""
        from pydicom.dataset import Dataset as _Dataset
        from pydicom.sequence import Sequence as _Sequence

        self._clean(ds)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            if "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = self.new_uid(meta.MediaStorageSOPInstanceUID)
            for kw in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                       "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                       "PrivateInformation"):  # fmt: skip
                if kw in meta:
                    delattr(meta, kw)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = list(METHOD)
        items = []
        for value, meaning in CODES:
            item = _Dataset()
            item.CodeValue = value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = _Sequence(items)
        ds.LongitudinalTemporalInformationModified = "MODIFIED"

    def _clean(self, ds: Dataset) -> None:
        for elem in list(ds):
            tag = int(elem.tag)
            if elem.tag.is_private:
                del ds[elem.tag]
                continue
            if tag == 0x7FE00010 or elem.tag.element == 0:  # pixel data; group lengths
                continue
            action = _action_of(tag)
            vr = elem.VR
            if vr == "SQ":
                if action in ("X",):
                    del ds[elem.tag]
                elif action in ("Z", "D"):
                    elem.value = []
                else:  # U (none are SQ), K, or not listed: keep, clean every item
                    for item in elem.value or []:
                        self._clean(item)
                continue
            if tag == _BIRTH_DATE:
                elem.value = ""
            elif tag == _PATIENT_ID:
                elem.value = self.pseudonym(str(elem.value or ""))
            elif vr == "UI":
                elem.value = _map_values(elem.value, self.new_uid)
            elif vr == "DA":
                elem.value = _map_values(elem.value, self.shift_date)
            elif vr == "DT":
                elem.value = _map_values(elem.value, self.shift_datetime)
            elif vr == "TM" and action is not None:
                pass  # the option's "C": a whole-day shift leaves the time of day right
            elif action == "X":
                del ds[elem.tag]
            elif action == "Z":
                elem.value = _empty(vr)
            elif action == "D":
                elem.value = _dummy(vr)
            elif action == "U":  # a UID held in another VR (none in the table): emptied
                elem.value = _empty(vr)


def _map_values(value: Any, fn: Callable[[str], str]) -> Any:
    from pydicom.multival import MultiValue

    if value is None or value == "":
        return value
    if isinstance(value, MultiValue | list | tuple):
        return [fn(str(v)) for v in value]
    return fn(str(value))


def _empty(vr: str) -> Any:
    return b"" if vr.startswith("O") or vr in ("UN",) else ("" if vr not in _NUMERIC else None)


_NUMERIC = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT"}


def _dummy(vr: str) -> Any:
    """A value of the right VR that says nothing about the patient."""
    if vr in _NUMERIC:
        return 0
    if vr in ("DS", "IS"):
        return "0"
    if vr == "PN":
        return "ANONYMOUS"
    if vr == "TM":
        return "000000"
    if vr == "AS":
        return "000Y"
    if vr.startswith("O") or vr == "UN":
        return b""
    if vr == "CS":
        return "ANONYMIZED"
    return "ANONYMIZED"
