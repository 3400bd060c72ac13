"""The series the viewer's "Compare…" list offers are image series: a presentation state (PR,
the radiologist's window and marks on images) is left out, as /api/library leaves it out. Before
(seen on a phone at stop 19), the list offered "2023-03-10 PR", which the page cannot compare.

The library: pagegen.py's marked CT (a CT of 4 images with a presentation state, a Key Object
Selection and reports).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_process import ServeProcess

from ownscan.core.library import open_library


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    from pagegen import write_marked_ct
    from reportpagegen import import_sources

    root = tmp_path_factory.mktemp("priors-images")
    write_marked_ct(root / "src" / "stanne")
    library = import_sources(root / "src", root / "library")
    server = ServeProcess.start(library)
    yield server, library
    assert server.stop() == 0, server.log


def test_a_presentation_state_is_not_offered_to_compare_with(
    marked: tuple[ServeProcess, Path],
) -> None:
    server, library = marked
    with open_library(library, read_only=True) as lib:
        by_modality = {se.modality: se.series_uid for se in lib.series()}
    assert "PR" in by_modality, by_modality  # the library holds one
    client = server.client()
    priors = client.get(f"/api/series/{by_modality['CT']}/priors")
    assert priors.status_code == 200, priors.text
    listed = priors.json()["proposed"] + priors.json()["others"]
    assert all(item["modality"] != "PR" for item in listed), listed
    assert by_modality["PR"] not in {item["series_uid"] for item in listed}
