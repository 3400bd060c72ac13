"""SimpleITK as a load peer, in its own process: ``python -m ownscan.core.bench._sitk SERIES
OUT.nii`` reads the DICOM series in the folder SERIES with ``sitk.ImageSeriesReader`` (GDCM)
as int16, as ownscan and dcm2niix store a CT, writes it as uncompressed NIfTI and prints its
size. The bench times the whole process, as it does dcm2niix's."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Read the series, write the NIfTI; 2 (and why, on stderr) when there is no series."""
    import SimpleITK as sitk

    src, out = argv if argv is not None else sys.argv[1:]
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(src)
    if not names:
        print(f"{src}: no DICOM series found", file=sys.stderr)
        return 2
    reader.SetFileNames(names)
    reader.SetOutputPixelType(sitk.sitkInt16)  # its default for rescaled CT is wider
    image = reader.Execute()
    sitk.WriteImage(image, out, useCompression=False)
    print("x".join(str(n) for n in image.GetSize()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
