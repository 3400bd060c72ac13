"""The pydicom fallback: reading a header with pydicom where the scanner declines.

One function reads a header with pydicom for every reader in ownscan (the frame records of
assembly, the library's index) with one rule for what is not DICOM at all and one mapping of
pydicom's failures to :class:`~ownscan.core.errors.NotDicom` and
:class:`~ownscan.core.errors.ReadProblem`. pydicom is imported only when it is needed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
import sys
import warnings
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, TypeGuard

from ownscan.core.errors import NotDicom, ReadProblem

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["damaged", "is_dataset", "looks_like_dicom", "quiet_pydicom", "read_dataset"]


def damaged() -> tuple[type[Exception], ...]:
    """What pydicom raises while reading a damaged header or converting a damaged value (a
    length that runs past the end, bytes that do not decode, a value that does not parse, a
    VR it does not handle). Anything else raised while reading a header is a bug and is not
    turned into "a damaged file". (A function: evaluated only when an exception is raised,
    so pydicom is imported only then.)"""
    from pydicom.errors import BytesLengthException, InvalidDicomError

    return (
        InvalidDicomError,
        BytesLengthException,
        EOFError,
        OSError,  # pydicom's "No tag to read at file position ..."
        struct.error,
        ValueError,  # UnicodeDecodeError and pydicom's value checks included
        TypeError,  # pydicom's IS / DS of a value that is not a number
        LookupError,  # KeyError, IndexError, an unknown codec
        NotImplementedError,
        OverflowError,
        zlib.error,  # a deflated data set (1.2.840.10008.1.2.1.99) whose stream is damaged
    )


def is_dataset(item: object) -> TypeGuard[Dataset]:
    """Is ``item`` a pydicom ``Dataset``? (Without importing pydicom: if it is not imported
    yet, nothing can be one.)"""
    mod = sys.modules.get("pydicom.dataset")
    return mod is not None and isinstance(item, mod.Dataset)


def looks_like_dicom(head: bytes) -> bool | None:
    """The one test of "DICOM at all" on the first 132 bytes of an item: True, a ``DICM``
    preamble; None, no preamble but it starts like a raw data set; False, neither (not
    DICOM: skipped, never an error)."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) >= 8:
        group, elem = struct.unpack("<HH", head[:4])
        # Old files without preamble usually start with group 0002 or 0008, element 0000-0020.
        if group in (0x0002, 0x0008) and elem <= 0x0020:
            return None
    return False


@contextlib.contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's own warnings and log records while reading or decoding (invalid UIDs,
    odd lengths, a decoder plugin's traceback).

    Those oddities do not change what is shown; what does is reported by ownscan itself, as
    one line naming the file.
    """
    log = logging.getLogger("pydicom")
    null = logging.NullHandler()
    old = log.propagate
    log.addHandler(null)
    log.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.propagate = old
        log.removeHandler(null)


_HEADER = 12  # the longest element header: a shorter read cut at the end is the end's test


class _Bounded:
    """A file whose ``read(n)`` never asks for more than what is left in it: pydicom reads an
    element with ``read(length)``, and Python's buffered ``read(n)`` allocates ``n`` bytes
    before reading, so a header that claims a 2 GiB element in a 1 KiB file would allocate
    2 GiB. Here the read is cut to the file's end and pydicom reports a short value."""

    def __init__(self, fp: IO[bytes] | io.BufferedIOBase, size: int) -> None:
        self._fp = fp
        self._size = size
        self.name = getattr(fp, "name", "<bytes>")
        # (offset, declared, left) of the first value read cut at the file's end: pydicom
        # takes the short value without a word (a private element declaring 2 GiB swallows
        # the pixel data, and the file read as an image without any)
        self.cut: tuple[int, int, int] | None = None

    def read(self, n: int = -1) -> bytes:
        at = self._fp.tell()
        left = max(0, self._size - at)
        if n is not None and n > max(left, _HEADER) and self.cut is None:
            self.cut = (at, n, left)
        return self._fp.read(left if n is None or n < 0 else min(n, left))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fp.seek(offset, whence)

    def tell(self) -> int:
        return self._fp.tell()

    def __getattr__(self, name: str) -> object:  # anything else pydicom asks of a file
        return getattr(self._fp, name)


def read_dataset(fp: IO[bytes] | io.BufferedIOBase) -> tuple[Dataset, int | None, int, bytes]:
    """Read a header with pydicom, up to the pixel data.

    Parameters
    ----------
    fp
        The item, open for reading (binary, seekable), at its start.

    Returns
    -------
    tuple
        The dataset, the file offset where pydicom stopped (the pixel data element, when
        there is one), the size of the item and the 12 bytes at that offset (the pixel data
        element's header).

    Raises
    ------
    NotDicom
        The item is not DICOM at all (:func:`looks_like_dicom`).
    ReadProblem
        It looks like DICOM but pydicom cannot read its header.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    kind = looks_like_dicom(fp.read(132))
    if kind is False:
        raise NotDicom("not a DICOM file")
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    fp.seek(0)
    bounded = _Bounded(fp, size)
    try:
        ds = dcmread(bounded, stop_before_pixels=True, force=kind is None)
    except InvalidDicomError as exc:
        raise ReadProblem(f"not readable as DICOM ({exc})") from None
    except (EOFError, struct.error) as exc:
        raise ReadProblem(f"header truncated ({type(exc).__name__}: {exc})") from None
    except RecursionError:  # sequences in sequences, hundreds deep: a hostile header
        raise ReadProblem("damaged header (sequences nested too deep to read)") from None
    except damaged() as exc:
        raise ReadProblem(f"damaged header ({type(exc).__name__}: {exc})") from None
    if bounded.cut is not None:
        at, declared, left = bounded.cut
        raise ReadProblem(
            f"file truncated: an element's value at byte {at} declares {declared} bytes, "
            f"only {left} present"
        )
    pos = fp.tell()
    return ds, pos, size, fp.read(12)
