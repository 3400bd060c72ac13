"""Benchmarks as a library: the measurements behind ``ownscan bench`` and ``benchmarks/``.

:func:`run_suite` measures, :func:`write_report` writes ``bench.json``, ``bench.md`` and (with
matplotlib) the plots; :mod:`ownscan.core.bench._render` holds the render measurements
(``benchmarks/bench_render.py`` prints them), :mod:`ownscan.core.bench._memory` the peak RSS
of one render in a child process.
"""

from ownscan.core.bench._suite import (
    FULL_IMAGES,
    FULL_SIZES,
    QUICK_IMAGES,
    QUICK_SIZES,
    Row,
    fits_memory,
    run_suite,
    with_ratios,
    write_report,
)

__all__ = [
    "FULL_IMAGES",
    "FULL_SIZES",
    "QUICK_IMAGES",
    "QUICK_SIZES",
    "Row",
    "fits_memory",
    "run_suite",
    "with_ratios",
    "write_report",
]
