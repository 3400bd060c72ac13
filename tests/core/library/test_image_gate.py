"""The import's cheap gate never lets a lying image header through: wherever the values the
header scan picked up plainly hold together (``read_header_checked`` says so), the reader's
full check (``image_problem``) has nothing to say. Over every hostile variant of the real head
MR (tests/core/hostilegen.py) and the real files (pydicom's and the head MR)."""

from __future__ import annotations

import sys
from pathlib import Path

from ownscan.core.dicom import NotDicom, ReadProblem
from ownscan.core.library._header import read_header_checked
from ownscan.core.library._image_check import image_problem

sys.path.insert(0, str(Path(__file__).parent.parent))
from hostilegen import make_variants


def _judge(paths: list[Path]) -> tuple[int, int]:
    """(files the gate passed, files image_problem flagged); asserts the gate is safe."""
    passed = flagged = 0
    for path in paths:
        data = path.read_bytes()
        try:
            _, plain = read_header_checked(data)
        except (NotDicom, ReadProblem):
            continue  # refused before any image check
        problem = image_problem(data)
        flagged += problem is not None
        if plain:
            passed += 1
            assert problem is None, (path.name, problem)
    return passed, flagged


def test_gate_never_passes_a_lying_header(mr_head_dir: Path, tmp_path: Path) -> None:
    slices = sorted(mr_head_dir.glob("*.dcm"))
    variants = make_variants(slices, tmp_path / "v", tmp_path / "work")
    passed, flagged = _judge([v.path for v in variants])
    assert flagged >= 10  # the lies of test_hostile_import_warnings are among them
    assert passed >= 1  # variants whose damage is outside the image pass


def test_gate_passes_the_usual_real_files(mr_head_dir: Path, pydicom_files) -> None:
    head = sorted(mr_head_dir.glob("*.dcm"))
    passed, _ = _judge(head)
    assert passed == len(head)  # the head MR: every slice skips the second read
    _judge(list(pydicom_files.values()))
