"""The built-in folder importer: recursion, link loops, and the litter it leaves out."""

from __future__ import annotations

import os
from pathlib import Path

from ownscan.core.plugin_types import ImportOptions
from ownscan.plugins.folder import FolderImporter


def _origins(root: Path) -> list[str]:
    items = FolderImporter().iter_items(str(root), ImportOptions())
    return sorted(str(Path(i.origin).relative_to(root)) for i in items)


def test_recursive_with_litter_left_out_and_a_link_loop_ended(tmp_path: Path) -> None:
    (tmp_path / "DICOM" / "ST1").mkdir(parents=True)
    (tmp_path / "DICOM" / "ST1" / "IM1").write_bytes(b"x")
    (tmp_path / "report.PDF").write_bytes(b"%PDF-1.4")
    for litter in (".DS_Store", "Thumbs.db", "desktop.ini", "._IM1"):
        (tmp_path / "DICOM" / "ST1" / litter).write_bytes(b"litter")
    (tmp_path / "__MACOSX" / "DICOM").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "DICOM" / "._IM1").write_bytes(b"litter")
    os.symlink("..", tmp_path / "DICOM" / "loop")  # a link loop must end, not run forever
    assert _origins(tmp_path) == ["DICOM/ST1/IM1", "report.PDF"]
    pdf = [
        i
        for i in FolderImporter().iter_items(str(tmp_path), ImportOptions())
        if i.origin.endswith(".PDF")
    ]
    assert pdf[0].media_type == "application/pdf"
