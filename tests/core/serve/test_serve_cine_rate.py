"""The page plays a cine at the rate ``info``, the NIfTI and the movie give it (the series'
own: ``Series.cine``), a Frame Time Vector included; before, the page read Recommended Display
Frame Rate, Cine Rate or Frame Time from the first file by itself, and a cine timed by its
Frame Time Vector alone had no rate on the page."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/core: the cine maker

from test_truth5_grey_cine import _cine, _one

from ownscan.core.serve._volumes import cine_json


@pytest.mark.parametrize(
    ("attrs", "fps"),
    [
        ({"FrameTime": 40.0}, 25.0),
        ({"FrameTimeVector": [0, 50, 50, 50, 50, 50], "pointer": 0x00181065}, 20.0),
        ({"CineRate": 15, "pointer": None}, 15.0),
        # both given: the sender's display advice first, as info and the movie
        ({"FrameTime": 40.0, "RecommendedDisplayFrameRate": 30}, 30.0),
        ({"pointer": None}, None),  # no timing: frames without a rate
    ],
)
def test_the_page_plays_a_cine_at_its_own_rate(tmp_path: Path, attrs, fps) -> None:  # type: ignore[no-untyped-def]
    _cine(tmp_path / "cine.dcm", **attrs)
    series = _one(tmp_path)
    volume = series.load()
    assert cine_json(volume, series) == {"frames": 6, "fps": fps}
    if series.cine is not None:
        assert series.cine[0] == fps
