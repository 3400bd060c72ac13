"""An ownscan importer plugin for tar archives of DICOM files (``.tar``, ``.tar.gz``, ``.tgz``).

The importer lives in :mod:`ownscan_example_importer.plugin`; ownscan finds it through the
``ownscan`` entry point declared in this distribution's pyproject.toml.
"""

from __future__ import annotations

from ownscan_example_importer.plugin import TarImporter

__all__ = ["TarImporter"]
