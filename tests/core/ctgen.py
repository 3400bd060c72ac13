"""The tests' CT series generator: :mod:`ownscan.core.bench._ctgen` (in the package, where
``ownscan bench`` uses it too), under the name the tests import."""

from ownscan.core.bench._ctgen import ct_phantom_slice, make_ct_dataset, write_ct_series

__all__ = ["ct_phantom_slice", "make_ct_dataset", "write_ct_series"]
