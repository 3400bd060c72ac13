"""2D pictures: radiographs, ultrasound, secondary captures and colour images, drawn as stored.

A single image (or one frame of a colour or cine series) has no third dimension to cast rays
through: it is drawn as a flat picture, the stored row 0 at the top and column 0 on the left
(as every DICOM workstation shows it; the orientation labels say which way the patient lies),
fitted to the picture with the pixels' true aspect ratio. Grey images go through the DICOM
display pipeline of PS3.14 in its order: the stored values (the Modality LUT, i.e. rescale, is
already applied by the decoder), the VOI LUT (the window, or the file's VOI LUT Function:
LINEAR, LINEAR_EXACT, SIGMOID), then the Presentation LUT (MONOCHROME1 or Presentation LUT
Shape INVERSE: inverted). Colour images are shown as they are.

The same numpy code draws for every backend (one image is small), so GL and the array renderer
give the same picture by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ownscan.core.errors import UsageError
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["Picture2D", "display_values", "draw_image", "image_labels", "scale_words"]

_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}
_SHOWN = {"H": "S", "F": "I"}  # the letters ownscan shows (LPS: S/I), Patient Orientation's H/F


@dataclass(frozen=True)
class Picture2D:
    """Where a 2D image landed in the picture.

    Attributes
    ----------
    frame
        The frame drawn (0-based).
    pixel_mm
        Millimetres per picture pixel (along the rows), or None when the image's spacing is
        unknown (then there is no scale).
    image_px
        Image pixels per picture pixel (along the rows).
    box
        ``(x0, y0, x1, y1)``: the picture pixels the image covers.
    """

    frame: int
    pixel_mm: float | None
    image_px: float
    box: tuple[int, int, int, int]


def display_values(
    values: npt.NDArray[np.floating] | npt.NDArray[np.integer],
    volume: Volume,
    window: WindowPreset | None = None,
) -> npt.NDArray[np.float32]:
    """Grey values -> display values in 0..1, in PS3.14's order: Modality LUT, VOI LUT,
    Presentation LUT.

    Parameters
    ----------
    values
        The volume's values (rescale already applied), any shape.
    volume
        Gives the Modality LUT, the windows, VOI LUTs and VOI LUT Function, MONOCHROME1 and
        the Presentation LUT Shape.
    window
        The window to apply. Default: the file's first window, else its first VOI LUT, else
        the 1st..99th percentile of the values.
    """
    x = np.asarray(values, dtype=np.float64)
    if volume.modality_lut is not None:
        x = volume.modality_lut.apply(x)
    if window is None and not volume.windows and volume.voi_luts:
        lut = volume.voi_luts[0]
        y = lut.apply(x) / float((1 << lut.bits) - 1)
    else:
        if window is None:
            if volume.windows:
                window = volume.windows[0]
            else:  # as Volume.default_window, on the values after the Modality LUT
                lo, hi = (float(v) for v in np.percentile(x, [1.0, 99.0]))
                window = WindowPreset("auto", max(hi - lo, 1.0), (hi + lo) / 2.0)
        y = _voi_function(x, window, volume.voi_function or "LINEAR")
    if volume.invert or volume.presentation_shape == "INVERSE":
        y = 1.0 - y
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def _voi_function(
    x: npt.NDArray[np.float64], window: WindowPreset, function: str
) -> npt.NDArray[np.float64]:
    """PS3.3 C.11.2.1.2-3: the window as the VOI LUT Function says."""
    c, width = float(window.level), float(window.width)
    if function == "SIGMOID":
        return np.asarray(1.0 / (1.0 + np.exp(-4.0 * (x - c) / width)))
    if function == "LINEAR_EXACT" or width <= 1.0:  # LINEAR needs a width above 1
        return np.clip((x - c) / width + 0.5, 0.0, 1.0)
    return np.clip((x - (c - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)  # LINEAR: c - 0.5, w - 1


def _po_letters(text: str, opposite: bool) -> str:
    """Patient Orientation letters (or their opposites) in ownscan's letters (H/F as S/I)."""
    letters = (_OPPOSITE[c] if opposite else c for c in text)
    return "".join(_SHOWN.get(c, c) for c in letters)


def image_labels(volume: Volume) -> dict[str, str]:
    """The labels at the four edges of a 2D image drawn as stored (``left``, ``right``,
    ``top``, ``bottom``), or an empty dict when nothing says how the patient lies.

    From Image Orientation (Patient) when known, else from Patient Orientation (its first value
    is the direction of the rows, i.e. towards the right edge; the second that of the columns,
    towards the bottom), else none: labels are never invented.
    """
    from ownscan.core.render._annotate import orientation_label

    if volume.orientation_source == "patient":
        row, col = volume.direction[:, 0], volume.direction[:, 1]
        return {
            "right": orientation_label(row),
            "left": orientation_label(-row),
            "bottom": orientation_label(col),
            "top": orientation_label(-col),
        }
    po = volume.patient_orientation
    if volume.orientation_source == "patient_orientation" and po is not None:
        return {
            "right": _po_letters(po[0], False),
            "left": _po_letters(po[0], True),
            "bottom": _po_letters(po[1], False),
            "top": _po_letters(po[1], True),
        }
    return {}


def scale_words(volume: Volume) -> str:
    """How the scale bar's millimetres are to be read, "" for a true patient scale; for an
    unknown spacing, the line shown instead of a bar."""
    return {
        "pixel": "",
        "detector": "at detector",
        "scanned": "scanned film",
        "ultrasound": "ultrasound region",
        "": "no scale: pixel size unknown",
    }.get(volume.spacing_source, volume.spacing_source)


def draw_image(
    volume: Volume,
    size: tuple[int, int],
    *,
    window: WindowPreset | None = None,
    frame: int | None = None,
    zoom: float = 1.0,
) -> tuple[npt.NDArray[np.uint8], Picture2D]:
    """Draw one frame of ``volume`` as a flat picture, fitted to ``size`` (w, h), on black.

    Parameters
    ----------
    volume
        Grey ``(z, y, x)`` or colour ``(z, y, x, 3)`` voxels.
    size
        Picture width and height in pixels.
    window
        Grey images: the window (default: the volume's). Colour images ignore it.
    frame
        0-based frame (default: the first).
    zoom
        1 fits the image; 2 shows its middle half.

    Returns
    -------
    (image, where)
        RGBA uint8 ``(h, w, 4)`` (alpha 255 where the image is), and a :class:`Picture2D`.
    """
    from PIL import Image

    n = volume.shape[0]
    k = 0 if frame is None else int(frame)
    if not 0 <= k < n:
        raise UsageError(f"frame {k + 1} is outside this series (frames 1..{n})")
    if not zoom > 0:
        raise UsageError(f"zoom must be > 0, got {zoom!r}")
    out_w, out_h = size
    rows, cols = volume.shape[1], volume.shape[2]
    sx, sy = volume.spacing[0], volume.spacing[1]
    fit = min(out_w / (cols * sx), out_h / (rows * sy)) * zoom  # picture px per mm
    px_col, px_row = fit * sx, fit * sy  # picture px per image column / row
    # The picture pixels the image covers (whole pixels), and the image rectangle behind them.
    x0 = max(0, int(np.floor(out_w / 2 - cols * px_col / 2 + 1e-6)))
    x1 = min(out_w, int(np.ceil(out_w / 2 + cols * px_col / 2 - 1e-6)))
    y0 = max(0, int(np.floor(out_h / 2 - rows * px_row / 2 + 1e-6)))
    y1 = min(out_h, int(np.ceil(out_h / 2 + rows * px_row / 2 - 1e-6)))
    box = (  # clamped: rounding must not step outside the image
        min(max(cols / 2 + (x0 - out_w / 2) / px_col, 0.0), cols),
        min(max(rows / 2 + (y0 - out_h / 2) / px_row, 0.0), rows),
        min(max(cols / 2 + (x1 - out_w / 2) / px_col, 0.0), cols),
        min(max(rows / 2 + (y1 - out_h / 2) / px_row, 0.0), rows),
    )
    dw, dh = x1 - x0, y1 - y0
    rgba = np.zeros((out_h, out_w, 4), np.uint8)
    plane = np.asarray(volume.voxels[k])
    if volume.samples == 1:
        grey = display_values(plane, volume, window)
        img = Image.fromarray(np.ascontiguousarray(grey), "F")
        if (dw, dh) != (cols, rows) or box != (0, 0, cols, rows):
            img = img.resize((dw, dh), Image.Resampling.BILINEAR, box=box)
        g = np.clip(np.rint(np.asarray(img, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
        rgba[y0:y1, x0:x1, :3] = g[..., None]
    else:
        rgb = np.ascontiguousarray(plane[..., :3]).astype(np.uint8, copy=False)
        cimg = Image.fromarray(rgb, "RGB")
        if (dw, dh) != (cols, rows) or box != (0, 0, cols, rows):
            cimg = cimg.resize((dw, dh), Image.Resampling.BILINEAR, box=box)
        rgba[y0:y1, x0:x1, :3] = np.asarray(cimg, dtype=np.uint8)
    rgba[y0:y1, x0:x1, 3] = 255
    where = Picture2D(
        frame=k,
        pixel_mm=(1.0 / fit) if volume.spacing_known else None,
        image_px=1.0 / px_col,
        box=(x0, y0, x1, y1),
    )
    return rgba, where
