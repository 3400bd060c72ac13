"""Generated documents referencing a generated CT series: a TID 1500 measurement report, a
Key Object Selection and a Grayscale Softcopy Presentation State written by highdicom (an
independent, well-kept writer), and a free-text report with headings written with pydicom."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def ct_images(folder: Path, n: int = 4) -> list[Dataset]:
    """A small CT series with everything highdicom asks of a source image."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "library"))
    from library_dicomgen import ct_series

    study = generate_uid()
    out = []
    for path in ct_series(folder, n, study=study, patient=("Doe^Jane", "P1")):
        ds = pydicom.dcmread(path)
        ds.Manufacturer = "ownscan tests"
        ds.ReferringPhysicianName = "Who^Sent"
        ds.FrameOfReferenceUID = ds.get("FrameOfReferenceUID") or "1.2.3.4"
        ds.StudyID = "1"
        ds.InstitutionName = "St Anne"
        ds.save_as(path, enforce_file_format=True)
        out.append(pydicom.dcmread(path))
    return out


def _common(series_number: int) -> dict[str, object]:
    return {
        "series_instance_uid": hd.UID(),
        "series_number": series_number,
        "sop_instance_uid": hd.UID(),
        "instance_number": 1,
        "manufacturer": "ownscan tests",
    }


def measurement_report(images: list[Dataset], path: Path) -> Dataset:
    """TID 1500: a nodule on image 2 outlined by a polyline, its diameter 12.5 mm, and a
    finding site; highdicom writes it as a Comprehensive 3D SR."""
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Rad^Ann"),
    )
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=np.array([[4.5, 4.5], [10.5, 4.5], [10.5, 9.5], [4.5, 4.5]]),
        source_image=hd.sr.SourceImageForRegion.from_source_image(images[1]),
    )
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="nodule 1"),
        referenced_region=region,
        finding_type=codes.SCT.Nodule,
        finding_sites=[hd.sr.FindingSite(anatomic_location=codes.SCT.Lung)],
        measurements=[
            hd.sr.Measurement(name=codes.SCT.Diameter, value=12.5, unit=codes.UCUM.Millimeter)
        ],
    )
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    sr = hd.sr.Comprehensive3DSR(evidence=images, content=content, **_common(20))  # type: ignore[arg-type]
    sr.save_as(path, enforce_file_format=True)
    return sr


def key_objects(images: list[Dataset], path: Path) -> Dataset:
    """Images 1 and 3 flagged "Of Interest" with a note."""
    content = hd.ko.KeyObjectSelection(
        document_title=codes.DCM.OfInterest,
        referenced_objects=[images[0], images[2]],
        description="nodule, see image 3",
    )
    ko = hd.ko.KeyObjectSelectionDocument(evidence=images, content=content, **_common(21))  # type: ignore[arg-type]
    ko.save_as(path, enforce_file_format=True)
    return ko


def presentation_state(images: list[Dataset], path: Path) -> Dataset:
    """A lung window on every image, a text box pointing at the nodule and an arrow-like
    polyline on image 2."""
    layer = hd.pr.GraphicLayer(layer_name="MARKS", order=1)
    annotation = hd.pr.GraphicAnnotation(
        referenced_images=[images[1]],
        graphic_layer=layer,
        graphic_objects=[
            hd.pr.GraphicObject(
                graphic_type=hd.pr.GraphicTypeValues.POLYLINE,
                graphic_data=np.array([[2.0, 2.0], [7.0, 6.0]]),
                units=hd.pr.AnnotationUnitsValues.PIXEL,
            ),
            hd.pr.GraphicObject(
                graphic_type=hd.pr.GraphicTypeValues.CIRCLE,
                graphic_data=np.array([[8.0, 8.0], [11.0, 8.0]]),
                units=hd.pr.AnnotationUnitsValues.PIXEL,
            ),
        ],
        text_objects=[
            hd.pr.TextObject(
                text_value="nodule",
                units=hd.pr.AnnotationUnitsValues.PIXEL,
                bounding_box=(1.0, 12.0, 9.0, 15.0),
                anchor_point=(8.0, 8.0),
            )
        ],
    )
    voi = hd.pr.SoftcopyVOILUTTransformation(
        # lists: highdicom 0.28 writes a plain str explanation as one value per letter
        window_center=[-600.0],
        window_width=[1500.0],
        window_explanation=["LUNG"],
    )
    common = _common(22)
    pr = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=images,
        series_instance_uid=common["series_instance_uid"],  # type: ignore[arg-type]
        series_number=22,
        sop_instance_uid=common["sop_instance_uid"],  # type: ignore[arg-type]
        instance_number=1,
        manufacturer="ownscan tests",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
        content_label="MARKS",
        graphic_layers=[layer],
        graphic_annotations=[annotation],
        voi_lut_transformations=[voi],
    )
    # an arrow as a compound graphic (PS3.3 C.10.5.1.3), which highdicom does not write
    arrow = Dataset()
    arrow.CompoundGraphicInstanceID = 1
    arrow.CompoundGraphicUnits = "PIXEL"
    arrow.GraphicDimensions = 2
    arrow.NumberOfGraphicPoints = 2
    arrow.GraphicData = [14.0, 3.0, 9.0, 7.0]
    arrow.CompoundGraphicType = "ARROW"
    arrow.GraphicFilled = "N"
    pr.GraphicAnnotationSequence[0].CompoundGraphicSequence = [arrow]
    pr.save_as(path, enforce_file_format=True)
    return pr


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _item(
    value_type: str, name: tuple[str, str, str], relationship: str = "CONTAINS", **kw: object
) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    item.ConceptNameCodeSequence = [_code(*name)]
    if value_type == "CONTAINER":
        item.ContinuityOfContent = "SEPARATE"
    for k, v in kw.items():
        setattr(item, k, v)
    return item


def text_report(images: list[Dataset], path: Path, *, findings: str, impression: str) -> Dataset:
    """A Comprehensive SR as a radiologist's free text: Findings (text, a measured size with
    units, a coded finding) and Impression, written with pydicom alone."""
    ref = images[0]
    num = Dataset()
    num.NumericValue = "23.5"
    num.MeasurementUnitsCodeSequence = [_code("mm", "UCUM", "millimeter")]
    findings_c = _item(
        "CONTAINER",
        ("121070", "DCM", "Findings"),
        ContentSequence=[
            _item("TEXT", ("121071", "DCM", "Finding"), TextValue=findings),
            _item("NUM", ("410668003", "SCT", "Length"), MeasuredValueSequence=[num]),
            _item(
                "CODE",
                ("121071", "DCM", "Finding"),
                ConceptCodeSequence=[_code("27925004", "SCT", "Nodule")],
            ),
        ],
    )
    impression_c = _item(
        "CONTAINER",
        ("121072", "DCM", "Impressions"),
        ContentSequence=[_item("TEXT", ("121073", "DCM", "Impression"), TextValue=impression)],
    )
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = COMPREHENSIVE_SR
    ds.SOPInstanceUID = generate_uid()
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "AccessionNumber",
        "StudyDescription",
        "InstitutionName",
        "ReferringPhysicianName",
    ):
        setattr(ds, kw, ref.get(kw, ""))
    ds.Modality = "SR"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 30
    ds.InstanceNumber = 1
    ds.Manufacturer = "ownscan tests"
    ds.ContentDate, ds.ContentTime = "20240131", "120000"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.PerformedProcedureCodeSequence = []
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = [_code("18748-4", "LN", "Diagnostic imaging report")]
    ds.ContentTemplateSequence = []
    ds.ContentSequence = [findings_c, impression_c]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return ds
