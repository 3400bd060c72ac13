"""The ``png`` and ``movie`` exporters: pictures of a series drawn by ownscan's own renderer.

Both draw through :mod:`ownscan.core.render` (``view_from_options`` + ``create_renderer``),
the very code ``ownscan render`` runs, so a picture is what ``ownscan render`` shows with the
same options (``--mode``, ``--preset``, ``--window``/``--level``, ``--plane``, ``--azimuth``,
``--elevation``, ``--zoom``, ``--perspective``, ``--slab``, ``--iso-value``, ``--size``,
``--backend``). They live in one plugin because they share those flags.

``png`` (``--output`` is a folder; one sub-folder per series, never reused):

- a slice mode (``mpr``, the default here): every slice across the volume in the chosen
  plane (``--plane``, default axial), ``--every N`` for every Nth, or one ``--slice N``
  (1-based). The slices are one voxel step apart along the plane's normal and pass through the
  voxel centres of the volume's outermost slices; for a plane that is the acquisition plane they
  are exactly the acquired slices. Files are ``slice_0001.png``... zero-padded, numbered in
  anatomical order: feet to head (axial), back to front (coronal), right to left (sagittal).
- any other mode (``dvr``, ``mip``, ``iso``...): one picture, ``view.png``, of that 3D view.

``movie`` (``--output`` is the file; ``.mp4``, ``.gif`` or ``.webp`` by its suffix):

- a 3D mode (``dvr`` by default): a turntable, ``--frames`` pictures (default 72) turning
  the camera once around the patient's head-feet axis from the view's azimuth;
- a slice mode (``--mode mpr``): a cine through the slices, in the same order as ``png``
  (``--every N`` thins it, ``--frames`` caps it).

A colour series (ultrasound, photographs, secondary captures) is never ray-cast: ``png``
writes its frames as stored (``frame_0001.png``..., the colours exact; at its stored pixels
without ``--size``) or, for a colour stack with slice positions, its slices as colour MPR;
``movie`` is the cine through them; a 3D mode is refused with a message (:func:`_colour_mode`).
Grey frames without slice positions (a grey cine, or frames neither placed nor timed) go the
same way, their frames as stored in one window; a 3D mode is refused (:func:`_frames_mode`).

``--fps`` (default 24; a cine's own rate, from its Frame Time, Cine Rate..., at most 120)
sets the speed. MP4 is H.264 (yuv420p, so the size is rounded up to even
numbers) written by the ffmpeg that the imageio-ffmpeg wheel ships (``pip install
"ownscan[movie]"``); GIF and WebP need only Pillow. A progress bar shows on a terminal (stderr),
nothing in a pipe. Every file is written nameless (MP4: under a hidden ``.part`` name, as
ffmpeg needs a path) and linked when complete, never over an existing file.

The series' warnings (:mod:`ownscan.core.recorded`): each ``png`` picture in its ``Warning``
text chunk; a movie in ``NAME.warnings.txt`` beside it (a player shows no metadata, and WebP
has no text field) and, where the container has a comment, in it too (GIF comment extension,
MP4 ``comment`` metadata). A series without warnings gets neither.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError
from ownscan.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy as np

    from ownscan.core.plugin_types import OptionParser
    from ownscan.core.render import Camera, Renderer, Scene
    from ownscan.core.volume import Volume

__all__ = ["MovieExporter", "PngExporter", "render_frames", "slice_offsets"]

# the anatomical direction slices are numbered towards, per dominant LPS axis of the normal:
# x -> patient's left, y -> anterior (-y in LPS), z -> head
_ANATOMICAL = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))
EXTRA = "movie"
log = logging.getLogger(__name__)


def slice_offsets(volume: Volume, camera: Camera) -> list[float]:
    """The ``slice_offset_mm`` of every slice across ``volume`` seen by ``camera``, in
    anatomical order (feet to head, back to front, right to left).

    One step is one voxel along the plane's normal (the spacing along it for an acquisition
    plane); the first and last pass through the voxel centres of the outermost slices.
    """
    import numpy as np

    normal = camera.basis_lps()[:, 2]  # towards the viewer: the positive offset
    per_mm = np.abs(normal @ volume.direction) / np.asarray(volume.spacing)
    step = 1.0 / float(per_mm.max())
    nz, ny, nx = volume.voxels.shape[:3]
    corners = np.array([[i, j, k] for i in (0, nx - 1) for j in (0, ny - 1) for k in (0, nz - 1)])
    centre = volume.index_to_lps([(nx - 1) / 2.0, (ny - 1) / 2.0, (nz - 1) / 2.0])
    proj = (volume.index_to_lps(corners) - centre) @ normal
    lo, hi = float(proj.min()), float(proj.max())
    count = math.floor((hi - lo) / step + 1e-6) + 1
    offsets = [lo + m * step for m in range(count)]
    axis = int(np.argmax(np.abs(normal)))
    towards = float(np.dot(normal, _ANATOMICAL[axis]))
    return sorted(offsets, key=lambda o: o * towards)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH, e.g. 512x512, got {text!r}") from None
    if not (1 <= w <= 8192 and 1 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be within 1..8192 per side, got {text!r}")
    return (w, h)


def _size_of(value: Any) -> tuple[int, int]:
    """``--size`` as parsed (a pair) or as text (``"WxH"``, the Python API), checked."""
    if isinstance(value, tuple | list):
        value = "x".join(str(v) for v in value)
    try:
        return _size(value or "512x512")
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None


def _view(volume: Volume, options: Mapping[str, Any], mode: str) -> tuple[Scene, Camera]:
    from ownscan.core.render import view_from_options

    opts = dict(options)
    opts["mode"] = options.get("mode") or mode
    opts["iso"] = options.get("iso_value")  # --iso is the share exporter's disc image
    return view_from_options(volume, opts)


def _chosen(
    offsets: list[float], options: Mapping[str, Any], what: str = "this view has slices"
) -> list[tuple[int, float]]:
    """(1-based number, offset) of the slices ``--slice`` / ``--every`` pick."""
    numbered = list(enumerate(offsets, start=1))
    if options.get("slice") is not None:
        n = int(options["slice"])
        if not 1 <= n <= len(offsets):
            raise UsageError(f"--slice {n}: {what} 1..{len(offsets)}")
        return [numbered[n - 1]]
    every = int(options.get("every") or 1)
    if every < 1:
        raise UsageError(f"--every {every}: give 1 or more")
    return numbered[::every]


def render_frames(
    renderer: Renderer, scene: Scene, cameras: Sequence[Camera], offsets: Sequence[float] | None,
    size: tuple[int, int],
) -> Iterator[np.ndarray]:  # fmt: skip
    """RGB uint8 pictures, one per camera (and slice offset when given), on black."""
    import dataclasses

    import numpy as np

    from ownscan.core.render import RenderNote

    told: set[str] = set()
    for n, camera in enumerate(cameras):
        frame_scene = scene
        if offsets is not None:
            frame_scene = dataclasses.replace(scene, slice_offset_mm=offsets[n])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RenderNote)
            image = renderer.render(frame_scene, camera, size)
        for note in caught:  # what `ownscan render` prints (a volume averaged down...), once
            if not issubclass(note.category, RenderNote):  # not ours to swallow: passed on
                warnings.warn_explicit(note.message, note.category, note.filename, note.lineno)
            elif str(note.message) not in told:
                told.add(str(note.message))
                log.warning("note: %s", note.message)
        yield np.ascontiguousarray(image[..., :3])


def _series_folder(output: Path, volume: Volume) -> Path:
    """A new folder in ``output`` named after the series (``_2``... when taken)."""
    from ownscan.plugins._output import series_stem

    stem = series_stem(volume)
    n = 1
    while True:
        folder = output / (stem if n == 1 else f"{stem}_{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            n += 1


class PngExporter:
    """PNG pictures: every slice (or some) of a slice mode, or one 3D view."""

    name = "png"
    description = "PNG pictures: slices (--every N, --slice N) or the 3D view, as `render` draws"
    writes_folder = True

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write the pictures of each volume into a new sub-folder of the folder ``output``."""
        from ownscan.core.recorded import png_bytes
        from ownscan.core.render import create_renderer
        from ownscan.plugins._output import progress, recorded_warnings, write_new

        output = Path(output)
        if output.exists() and not output.is_dir():
            raise UsageError(f"{output}: --output must be a folder for the png format")
        size = _size_of(options.get("size"))
        written: list[Path] = []
        renderer = create_renderer(options.get("backend") or "auto")
        try:
            for volume in volumes:
                if volume.samples > 1 or _unplaced_frames(volume):
                    # colour, or frames without positions (a cine): its pictures as they are
                    names, frames = _colour_pictures(renderer, volume, options, "png")
                    folder = _series_folder(output, volume)
                    said = recorded_warnings(volume)
                    for name, rgb in zip(names, progress(frames, len(names), "png"), strict=True):
                        written.append(write_new(folder / name, png_bytes(rgb, said)))
                    continue
                scene, camera = _view(volume, options, "mpr")
                if scene.mode.slab:
                    picks = _chosen(slice_offsets(volume, camera), options)
                    width = max(4, len(str(picks[-1][0])))
                    names = [f"slice_{n:0{width}d}.png" for n, _ in picks]
                    offsets: list[float] | None = [o for _, o in picks]
                else:
                    names, offsets = ["view.png"], None
                folder = _series_folder(output, volume)
                frames = render_frames(renderer, scene, [camera] * len(names), offsets, size)
                said = recorded_warnings(volume)
                for name, rgb in zip(names, progress(frames, len(names), "png"), strict=True):
                    written.append(write_new(folder / name, png_bytes(rgb, said)))
        finally:
            renderer.close()
        return written


class MovieExporter:
    """A turntable of the 3D view or a cine through the slices (MP4, GIF or WebP)."""

    name = "movie"
    description = "turntable of the 3D view or cine through slices (.mp4, .gif, .webp)"
    writes_folder = False

    def export(
        self, volumes: Sequence[Volume], output: Path, options: Mapping[str, Any]
    ) -> list[Path]:
        """Write the movie of the one volume in ``volumes`` to the new file ``output``."""
        from ownscan.core.render import Camera, create_renderer
        from ownscan.plugins._output import (
            check_free_beside,
            new_file,
            recorded_warnings,
            write_warnings_beside,
        )

        if len(volumes) != 1:
            raise UsageError(f"the movie format writes one series; got {len(volumes)}")
        volume = volumes[0]
        path = new_file(output, (".mp4", ".gif", ".webp"), "movie")
        # the series' warnings: in the file where the container has a comment (GIF, MP4) and
        # always in NAME.warnings.txt beside it, as a player shows no comment of a movie
        said = recorded_warnings(volume)
        check_free_beside(path, said)  # before the frames are drawn, not after
        fps = float(options.get("fps") or _own_rate(volume) or 24)
        if not 0 < fps <= 120:
            raise UsageError(f"--fps {fps:g}: give a rate in 0..120")
        if volume.samples > 1 or _unplaced_frames(volume):
            # colour, or frames without positions (a cine): a cine through its pictures
            movie = _colour_movie(volume, path, options, fps, said)
            return [movie, *write_warnings_beside(movie, said)]
        w, h = _size_of(options.get("size"))
        if path.suffix.lower() == ".mp4":
            _need_ffmpeg()
            w, h = w + w % 2, h + h % 2  # H.264 4:2:0 needs even sides
        scene, camera = _view(volume, options, "dvr")
        frames_opt = options.get("frames")
        offsets: list[float] | None = None
        if scene.mode.slab:  # cine through the slices
            offsets = [o for _, o in _chosen(slice_offsets(volume, camera), options)]
            if frames_opt:
                offsets = offsets[: int(frames_opt)]
            cameras = [camera] * len(offsets)
        else:  # turntable about the head-feet axis
            count = int(frames_opt or 72)
            if count < 1:
                raise UsageError(f"--frames {count}: give 1 or more")
            cameras = [
                Camera(
                    azimuth=camera.azimuth + 360.0 * n / count,
                    elevation=camera.elevation,
                    zoom=camera.zoom,
                    projection=camera.projection,
                )
                for n in range(count)
            ]
        renderer = create_renderer(options.get("backend") or "auto")
        try:
            frames = render_frames(renderer, scene, cameras, offsets, (w, h))
            from ownscan.plugins._output import progress

            frames = progress(frames, len(cameras), "movie")
            if path.suffix.lower() == ".mp4":
                movie = _write_mp4(path, frames, (w, h), fps, said)
            else:
                movie = _write_pillow(path, frames, fps, said)
        finally:
            renderer.close()
        return [movie, *write_warnings_beside(movie, said)]


def _own_rate(volume: Volume) -> float | None:
    """A cine's own speed (frames per second, at most 120), the default of ``--fps`` for it:
    played in the time the file gives, as the viewer plays it; None for anything else."""
    rate = volume.extra.get("frame_rate")
    if not volume.extra.get("cine") or not rate:
        return None
    return min(float(rate[0]), 120.0)


def _unplaced_frames(volume: Volume) -> bool:
    """Frames without slice positions (a cine: ultrasound, angiography; or frames whose file
    says neither place nor time): pictures one after another, never a volume to cast rays
    through (as ``ownscan render`` and the viewer show them)."""
    return volume.extra.get("kind") == "frames" and volume.shape[0] > 1


def _frames_mode(volume: Volume, options: Mapping[str, Any], fmt: str) -> None:
    """Refuse a mode other than mpr for grey frames without slice positions, saying what
    works: between its frames there is time (a cine) or an unknown distance, not a volume a
    ray could cross (its 1 mm stand-in spacing would be drawn as anatomy)."""
    mode = options.get("mode")
    if mode is None or mode == "mpr":
        return
    from ownscan.core.plugin_host import get_host

    get_host().mode(str(mode))  # an unknown mode: its own message
    what = (
        "a cine (frames in time, without slice positions)"
        if volume.extra.get("cine")
        else "frames without slice positions or timing (their spacing is not known)"
    )
    each = "exports each frame" if fmt == "png" else "is a cine through its frames"
    raise UsageError(
        f"--mode {mode}: this series is {what}, not a volume: no 3D view of it is true; the "
        f"{fmt} format {each} (--mode mpr); leave --mode out or give --mode mpr"
    )


def _colour_mode(volume: Volume, options: Mapping[str, Any], fmt: str) -> None:
    """Refuse a mode other than mpr for a colour series, saying which modes work: a colour
    pixel has three values, not one a ray could project, composite or shade (as ``ownscan
    render`` says, which falls back to a colour MPR; an export refuses, so that a movie asked
    as a turntable is not silently a cine)."""
    mode = options.get("mode")
    if mode is None or mode == "mpr":
        return
    from ownscan.core.plugin_host import get_host

    get_host().mode(str(mode))  # an unknown mode: its own message
    what = "exports each picture (slice mode mpr)" if fmt == "png" else "is a cine (--mode mpr)"
    raise UsageError(
        f"--mode {mode}: a colour series ({volume.samples} samples per pixel) has three values "
        f"per pixel, not one to project, composite or shade; the {fmt} format of a colour "
        f"series {what}; leave --mode out or give --mode mpr"
    )


def _native_size(volume: Volume) -> tuple[int, int]:
    """(w, h) of a 2D picture at its stored pixels: one picture pixel per image pixel, the rows
    stretched to the pixels' true aspect ratio when they are not square (as the viewer shows
    them)."""
    rows, cols = volume.shape[1], volume.shape[2]
    sx, sy = float(volume.spacing[0]), float(volume.spacing[1])
    if math.isclose(sx, sy, rel_tol=1e-6):
        return cols, rows
    return cols, max(1, round(rows * sy / sx))


def _colour_pictures(
    renderer: Renderer, volume: Volume, options: Mapping[str, Any], fmt: str,
    size: tuple[int, int] | None = None,
) -> tuple[list[str], Iterator[np.ndarray]]:  # fmt: skip
    """File names and RGB uint8 pictures of a colour series, as ``ownscan render`` and the
    viewer draw it, in slice mode only (:func:`_colour_mode`).

    A colour stack with slice positions (:func:`~ownscan.core.render.spatial_colour`): the
    slices across it in the chosen plane (default axial), as for grey series, each drawn as a
    colour MPR (``slice_NNNN.png``). Otherwise (a single image, or frames without slice
    positions: an ultrasound cine, a secondary capture): each frame as stored
    (``frame_NNNN.png``, in the file's order), row 0 at the top, column 0 on the left, the
    colours exact; at its stored pixels (square pixels: one PNG pixel each) unless ``--size``
    (or ``size``) asks for a size, which it is fitted to on black. ``--every`` / ``--slice``
    pick as for slices."""
    from ownscan.core.render import colour_channels, colour_mprs, draw_image, spatial_colour

    window = None
    if volume.samples == 1:  # grey frames without positions: in the window asked for
        from ownscan.core.plugin_host import get_host
        from ownscan.core.render import window_from_options

        _frames_mode(volume, options, fmt)
        window, _tf = window_from_options(volume, options, get_host())
        # one window for every frame, as the viewer shows them (a window made per frame from
        # its own values would hide what changes from frame to frame)
        window = window or volume.default_window()
    else:
        _colour_mode(volume, options, fmt)
        if any(options.get(k) is not None for k in ("window", "level", "preset")):
            log.info("note: the colours are exported as stored (window and preset: grey images)")
    if volume.samples == 1 or not spatial_colour(volume):
        n = volume.shape[0]
        picks = _chosen([float(k) for k in range(n)], options, "this series has frames")
        width = max(4, len(str(picks[-1][0])))
        names = [f"frame_{k:0{width}d}.png" for k, _ in picks]
        if size is None:
            size = _size_of(options.get("size")) if options.get("size") else _native_size(volume)
        zoom = float(options.get("zoom") or 1.0)

        def flat() -> Iterator[np.ndarray]:
            import numpy as np

            for k, _ in picks:
                image, _where = draw_image(volume, size, window=window, frame=k - 1, zoom=zoom)
                yield np.ascontiguousarray(image[..., :3])

        return names, flat()
    opts = {k: v for k, v in options.items() if k not in ("preset", "window", "level", "mode")}
    if all(opts.get(k) is None for k in ("plane", "azimuth", "elevation")):
        opts["plane"] = "axial"  # one plane: the slices across it (colour_mpr draws three else)
    channels, _ = colour_channels(volume)
    _, camera = _view(channels[0], {**opts, "mode": "mpr"}, "mpr")
    picks = _chosen(slice_offsets(channels[0], camera), options)
    width = max(4, len(str(picks[-1][0])))
    names = [f"slice_{k:0{width}d}.png" for k, _ in picks]
    mpr_size = size or _size_of(options.get("size"))

    def resliced() -> Iterator[np.ndarray]:
        import numpy as np

        # channel after channel over a batch of slices: each channel uploaded once a batch
        every = ({**opts, "offset": offset} for _, offset in picks)
        for image, _cams in colour_mprs(renderer, volume, every, mpr_size):
            yield np.ascontiguousarray(image[..., :3])

    return names, resliced()


def _colour_movie(
    volume: Volume, path: Path, options: Mapping[str, Any], fps: float,
    said: Sequence[str] = (),
) -> Path:  # fmt: skip
    """The cine of a colour series, or of grey frames without positions: its pictures
    (:func:`_colour_pictures`) one after another, ``--frames`` at most; at ``--size``, else
    the frames' own size (even sides for MP4); ``said``: the series' warnings, in the
    container's comment where it has one."""
    from ownscan.core.render import create_renderer, spatial_colour
    from ownscan.plugins._output import progress

    mp4 = path.suffix.lower() == ".mp4"
    if mp4:
        _need_ffmpeg()
    if options.get("size"):
        w, h = _size_of(options.get("size"))
    elif volume.samples > 1 and spatial_colour(volume):
        w, h = _size_of(None)
    else:
        w, h = _native_size(volume)
    if mp4:
        w, h = w + w % 2, h + h % 2  # H.264 4:2:0 needs even sides
    renderer = create_renderer(options.get("backend") or "auto")
    try:
        names, frames = _colour_pictures(renderer, volume, options, "movie", (w, h))
        count = len(names)
        if options.get("frames"):
            if int(options["frames"]) < 1:
                raise UsageError(f"--frames {int(options['frames'])}: give 1 or more")
            count = min(count, int(options["frames"]))
            frames = (f for _, f in zip(range(count), frames, strict=False))
        frames = progress(frames, count, "movie")
        if mp4:
            return _write_mp4(path, frames, (w, h), fps, said)
        return _write_pillow(path, frames, fps, said)
    finally:
        renderer.close()


def _need_ffmpeg() -> Any:
    from ownscan.plugins._output import need

    return need("imageio_ffmpeg", EXTRA)


def _write_mp4(
    path: Path, frames: Iterator[np.ndarray], size: tuple[int, int], fps: float,
    said: Sequence[str] = (),
) -> Path:  # fmt: skip
    from ownscan.core.files import PartFile
    from ownscan.plugins._output import offer_once

    ffmpeg = _need_ffmpeg()
    # the warnings as the MP4's comment (the ©cmt item of its metadata), one a line; the
    # argument list goes to ffmpeg without a shell, so the text needs no quoting
    comment = ["-metadata", "comment=" + "\n".join(said)] if said else []
    with PartFile(path.parent, named=".mp4") as part:
        assert part.path is not None
        writer = ffmpeg.write_frames(
            str(part.path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
            macro_block_size=1, quality=8, ffmpeg_log_level="error", output_params=comment,
        )  # fmt: skip
        writer.send(None)  # start ffmpeg
        try:
            for rgb in frames:
                writer.send(rgb)
        finally:
            writer.close()
        return part.commit(offer_once(path))


def _write_pillow(
    path: Path, frames: Iterator[np.ndarray], fps: float, said: Sequence[str] = ()
) -> Path:
    from PIL import Image

    from ownscan.plugins._output import write_new

    images = [Image.fromarray(rgb, "RGB") for rgb in frames]
    fmt = "GIF" if path.suffix.lower() == ".gif" else "WEBP"
    buf = io.BytesIO()
    extra: dict[str, Any] = {"lossless": True} if fmt == "WEBP" else {}
    if said and fmt == "GIF":  # a GIF comment extension (WebP has no text field: the sidecar)
        extra["comment"] = "\n".join(said).encode("utf-8")
    images[0].save(
        buf, format=fmt, save_all=True, append_images=images[1:], duration=round(1000 / fps),
        loop=0, **extra,
    )  # fmt: skip
    return write_new(path, buf.getvalue())


@hookimpl
def ownscan_exporters() -> list[PngExporter | MovieExporter]:
    return [PngExporter(), MovieExporter()]


@hookimpl
def ownscan_addoption(parser: OptionParser, command: str) -> None:
    if command != "export":
        return
    add = parser.add_argument
    add(
        "--mode",
        metavar="MODE",
        help="png/movie: mpr, mip, minip, xray, dvr, iso (png: mpr; movie: dvr)",
    )
    add(
        "--preset",
        metavar="NAME",
        help="png/movie: a transfer function or a window preset (brain, lung...)",
    )
    add("--window", type=float, metavar="WIDTH", help="png/movie: window width (with --level)")
    add("--level", type=float, metavar="LEVEL", help="png/movie: window level (with --window)")
    add("--plane", metavar="PLANE", help="png/movie: axial, coronal, sagittal... (slices: axial)")
    add(
        "--azimuth",
        type=float,
        metavar="DEG",
        help="png/movie: degrees; + turns towards the patient's left",
    )
    add(
        "--elevation",
        type=float,
        metavar="DEG",
        help="png/movie: degrees; + looks from above the head",
    )
    add("--zoom", type=float, metavar="Z", help="png/movie: 1 fits the volume (default)")
    add("--perspective", action="store_true", default=None, help="png/movie: perspective")
    add("--slab", type=float, metavar="MM", help="png/movie: slab thickness in mm (slice modes)")
    add(
        "--iso-value",
        type=float,
        metavar="VALUE",
        help="png/movie: the iso mode's value (volume units)",
    )
    add("--size", type=_size, metavar="WxH", help="png/movie: WxH (default 512x512)")
    add("--backend", choices=("gl", "cpu", "auto"), help="png/movie: renderer (default auto)")
    add("--every", type=int, metavar="N", help="png/movie: every Nth slice")
    add(
        "--slice",
        type=int,
        metavar="N",
        help="png: only slice N (1-based, anatomical order; a colour cine's frame N)",
    )
    add(
        "--fps",
        type=float,
        metavar="FPS",
        help="movie: frames per second (default 24, a cine's own rate)",
    )
    add(
        "--frames",
        type=int,
        metavar="N",
        help="movie: turntable frames (default 72); cine: at most N",
    )
