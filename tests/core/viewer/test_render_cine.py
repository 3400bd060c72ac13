"""``ownscan render`` on a grey cine (multi-frame ultrasound without slice positions): a picture
in time is drawn frame by frame as a 2D image in every mode, never ray-cast with time as the
third axis (the viewer shows such a series in one pane, test_viewer_cine.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from twodgen import bar_column, write_cine

from ownscan.core.cli import main


def _bar_x(path) -> float:
    """The image column (0..1 of the width) of the bright bar: the mean x of the bright pixels."""
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"), dtype=np.float32)
    _, xs = np.nonzero(grey > 0.75 * grey.max())
    assert xs.size, "no bright bar drawn"
    return float(xs.mean()) / grey.shape[1]


@pytest.mark.parametrize("mode", ["dvr", "mip", "mpr"])
def test_grey_cine_is_drawn_as_its_frames(tmp_path, capsys, mode):
    cine = write_cine(tmp_path / "cine.dcm", frames=12, rows=40, cols=64)
    for frame in (1, 9):
        out = tmp_path / f"{mode}-{frame}.png"
        args = ["render", str(cine), "-o", str(out), "--mode", mode, "--size", "128x80"]
        assert main([*args, "--frame", str(frame)]) == 0
        # the bar of that frame, where the generator put it (the picture fills the width)
        want = (bar_column(frame - 1, 64, 12) + 0.5) / 64
        assert _bar_x(out) == pytest.approx(want, abs=0.03)
    err = capsys.readouterr().err
    assert "frames without slice positions (a cine loop or sweep, not a volume)" in err
    assert "drawn frame by frame" in err
