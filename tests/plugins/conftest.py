"""Session fixtures for the media importers: a PDI disc and its ISO images (see media_data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_data import Disc, make_disc, make_isos


@pytest.fixture(scope="session")
def pdi_disc(tmp_path_factory: pytest.TempPathFactory, mr_head_dir: Path) -> Disc:
    """A disc as hospitals burn it: DICOMDIR (dcmmkdir), viewer, AUTORUN.INF, HTML, PDF."""
    root = tmp_path_factory.mktemp("pdi") / "CDROM"
    return make_disc(root, sorted(mr_head_dir.iterdir())[:4])


@pytest.fixture(scope="session")
def disc_images(tmp_path_factory: pytest.TempPathFactory, pdi_disc: Disc) -> dict[str, Path]:
    """The disc as ISO images: genisoimage plain / Joliet / Rock Ridge, and xorriso."""
    return make_isos(tmp_path_factory.mktemp("iso"), pdi_disc.root)
