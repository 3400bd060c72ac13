"""Benchmarks as a library: the measurements behind ``ownscan bench`` and ``benchmarks/``.

:func:`run_suite` measures, :func:`write_report` writes ``bench.json``, ``bench.md`` and (with
matplotlib) the plots; :mod:`ownscan.core.bench._render` holds the render and upload
measurements (``benchmarks/bench_render.py`` prints them), :mod:`ownscan.core.bench._load`
the series loading per transfer syntax (``benchmarks/bench_load.py``),
:mod:`ownscan.core.bench._import` the library import beside ``cp -r``
(``benchmarks/bench_import.py``), :mod:`ownscan.core.bench._memory` the peak RSS of one render
in a child process.
"""

from ownscan.core.bench._load import SYNTAXES
from ownscan.core.bench._suite import (
    FULL_IMAGES,
    FULL_IMPORT_FILES,
    FULL_SIZES,
    QUICK_IMAGES,
    QUICK_SIZES,
    QUICK_SYNTAXES,
    Row,
    fits_memory,
    run_suite,
    with_ratios,
    write_report,
)

__all__ = [
    "FULL_IMAGES",
    "FULL_IMPORT_FILES",
    "FULL_SIZES",
    "QUICK_IMAGES",
    "QUICK_SIZES",
    "QUICK_SYNTAXES",
    "SYNTAXES",
    "Row",
    "fits_memory",
    "run_suite",
    "with_ratios",
    "write_report",
]
