"""``ownscan compare PRIOR CURRENT``: register a new scan onto an old one and show both."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ownscan.core.errors import UsageError

if TYPE_CHECKING:
    from ownscan.core.compare import Registration
    from ownscan.core.library import Library
    from ownscan.core.volume import Volume

NAME = "compare"
HELP = "compare a new scan with an old one: register them, draw them side by side"
DESCRIPTION = (
    "Register CURRENT onto PRIOR (rigid, mutual information; SimpleITK) and report the transform "
    "that maps CURRENT's patient coordinates (LPS mm) to PRIOR's; with -o, draw one plane of "
    "both, the prior resampled through the transform. PRIOR and CURRENT are folders, files, "
    "discs, zips or library:UID (library:UID~N for stack N of a series of several stacks); "
    "PRIOR may be 'auto' for the best earlier series of the same patient in the library (of "
    "a series of several stacks, the stack nearest the current's slice direction). Series of "
    "the same pair from the library are registered once and the result kept there. Different "
    "patients are refused unless --force. Exit status 1 when the registration is poor (the "
    "picture then says so)."
)
ORDER = 45

# compare keeps its registrations in the library, so it opens the library itself for a
# `library:UID` source instead of going through the library importer
LIBRARY_PREFIX = "library:"


# ownscan.core.compare.MODES, spelled out so that `ownscan --help` imports no numpy
MODES = ("side-by-side", "difference", "overlay")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "%(prog)s [options] PRIOR CURRENT\n"
        "       %(prog)s --priors CURRENT [--json] [--library DIR]"
    )
    parser.add_argument(
        "series",
        nargs="+",
        metavar="SERIES",
        help="the earlier series (or 'auto') and the new one; with --priors only CURRENT",
    )
    parser.add_argument("-o", "--output", metavar="PNG", help="draw the comparison to this PNG")
    parser.add_argument(
        "--mode", choices=MODES, default="side-by-side", help="what -o draws (default side-by-side)"
    )
    parser.add_argument(
        "--slice",
        metavar="PLANE[:POS]",
        help="axial, coronal or sagittal, at POS mm along z, y or x of the current's patient "
        "coordinates, or at POS%% of its extent (default axial:50%%)",
    )
    parser.add_argument("--json", action="store_true", help="print what was done as JSON")
    parser.add_argument(
        "--no-register",
        action="store_true",
        help="scanner coordinates: take both series' own patient coordinates as they are",
    )
    parser.add_argument(
        "--force", action="store_true", help="compare even when the patients differ"
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="register again even when the library keeps a registration of this pair",
    )
    parser.add_argument(
        "--priors",
        action="store_true",
        help="list the library's proposed priors of CURRENT (library:UID), best first, and stop",
    )
    parser.add_argument("--library", metavar="DIR", help="the library for library:UID and auto")


@dataclass
class _Side:
    """One series of the comparison: where it came from and its Volume."""

    source: str
    volume: Volume
    library_uid: str | None = None

    def identifiers(self) -> dict[str, Any]:
        i = self.volume.info
        return {
            "source": self.source,
            "series_uid": i.series_instance_uid,
            "study_uid": i.study_instance_uid,
            "study_date": i.study_date,
            "series_description": i.series_description,
            "modality": self.volume.modality,
            "patient_id": i.patient_id,
            "patient_name": i.patient_name,
            "patient_birth_date": i.patient_birth_date,
            "frame_of_reference_uid": i.frame_of_reference_uid,
            "in_library": self.library_uid is not None,
        }


def _load(text: str, library: Library | None) -> _Side:
    """A Volume from a path/URL (the largest volume series in it) or from library:UID."""
    from ownscan.core.assembly import assemble
    from ownscan.core.commands._common import choose_series, report_problems
    from ownscan.core.plugin_host import get_host
    from ownscan.core.plugin_types import ImportOptions

    if text.startswith(LIBRARY_PREFIX):
        assert library is not None
        # one stack of a series of several is library:UID~N
        uid = library.resolve_stack(text[len(LIBRARY_PREFIX) :])
        return _Side(f"library:{uid}", library.load_volume(uid), uid)
    importer = get_host().find_importer(text, None)
    found = assemble(importer.iter_items(text, ImportOptions()))
    report_problems(found, NAME)
    hint = "; give a folder holding only the series to compare"
    chosen = choose_series(found, text, NAME, doing="comparing", hint=hint)
    return _Side(text, chosen.load())


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    want = 1 if args.priors else 2
    if len(args.series) != want:
        raise UsageError("--priors takes CURRENT only" if args.priors else "give PRIOR and CURRENT")
    if args.priors:
        return _list_priors(args)
    args.prior, args.current = args.series
    with ExitStack() as stack:
        library = None
        if args.prior == "auto" or LIBRARY_PREFIX in (args.prior[:8], args.current[:8]):
            from ownscan.core.library import open_library

            library = stack.enter_context(open_library(args.library, create=False))
        return _compare(args, library)
    return 2  # not reached: ExitStack re-raises (mypy cannot know)


def _list_priors(args: argparse.Namespace) -> int:
    """``--priors``: the proposed priors of a library series, best first."""
    from ownscan.core.compare import propose_priors
    from ownscan.core.library import open_library

    (current,) = args.series
    if not current.startswith(LIBRARY_PREFIX):
        raise UsageError(f"--priors needs CURRENT from the library (library:UID), got {current!r}")
    with open_library(args.library, create=False) as library:
        found = propose_priors(library, current[len(LIBRARY_PREFIX) :])
    if args.json:
        rows = [
            {
                "series_uid": c.uid,
                "stack": c.stack.label if c.stack is not None else None,
                "study_uid": c.study.study_uid,
                "study_date": c.study.date,
                "modality": c.series.modality,
                "series_description": c.series.description,
                "score": c.score,
                "reasons": list(c.reasons),
            }
            for c in found
        ]
        print(json.dumps(rows, indent=2))
    elif not found:
        print("no earlier series of the same patient and modality in the library")
    for c in [] if args.json else found:
        print(f"{c.study.date or 'no date'}  {c.series.modality}  {c.series.description}")
        print(f"    library:{c.uid}  (score {c.score:g}: {'; '.join(c.reasons)})")
    return 0


def _compare(args: argparse.Namespace, library: Library | None) -> int:
    from ownscan.core.compare import (
        compare_planes,
        draw_comparison,
        patient_check,
        plane_through,
        propose_priors,
    )
    from ownscan.core.errors import OwnscanError

    current = _load(args.current, library)
    if args.prior == "auto":
        if library is None or current.library_uid is None:
            raise UsageError("PRIOR 'auto' needs CURRENT from the library (library:UID)")
        proposed = propose_priors(library, current.library_uid)
        if not proposed:
            raise OwnscanError(
                f"no earlier {current.volume.modality} series of this patient in the library"
            )
        best = proposed[0]
        print(
            f"ownscan {NAME}: prior: {best.uid} ({best.study.date}, "
            f"{best.series.description}): {'; '.join(best.reasons)}",
            file=sys.stderr,
        )
        prior = _load(LIBRARY_PREFIX + best.uid, library)
    else:
        prior = _load(args.prior, library)
    for side, name in ((prior, "prior"), (current, "current")):
        if side.volume.samples != 1:
            raise UsageError(f"{side.source}: the {name} is a colour image; compare needs grey")
        if side.volume.shape[0] < 2 and not args.no_register:
            raise UsageError(
                f"{side.source}: the {name} is a single image; registration needs a volume "
                "(compare single images with --no-register)"
            )
        for w in side.volume.warnings:
            print(f"ownscan {NAME}: warning: {name} {side.source}: {w}", file=sys.stderr)

    same, differences = patient_check(prior.volume.info, current.volume.info)
    if not same and not args.force:
        raise OwnscanError(
            f"{prior.source} and {current.source} do not look like the same patient "
            f"({'; '.join(differences)}); give --force to compare them anyway"
        )

    reg, reused = _registration(args, library, prior, current)
    if args.output:
        plane = plane_through(current.volume, args.slice)
        planes = compare_planes(prior.volume, current.volume, reg, plane)
        forced = [] if same else ["not the same patient (forced): " + "; ".join(differences)]
        picture = draw_comparison(
            prior.volume, current.volume, reg, planes, args.mode, warnings=forced
        )
        _write_picture(args.output, picture.rgb, prior.volume, current.volume)

    if args.json:
        out = {
            "prior": prior.identifiers(),
            "current": current.identifiers(),
            **reg.to_dict(),
            "reused": reused,
            "same_patient": same,
            "patient_differences": differences,
            "output": args.output,
            "mode": args.mode if args.output else None,
        }
        print(json.dumps(out, indent=2))
    else:
        p, c = prior.volume.info, current.volume.info
        print(f"prior:   {p.study_date or 'no date'}  {p.series_description}  ({prior.source})")
        print(f"current: {c.study_date or 'no date'}  {c.series_description}  ({current.source})")
        how = "kept in the library" if reused else f"{reg.seconds:.1f} s"
        print(
            f"{reg.method} ({how}): rotation {reg.rotation_degrees:.2f} degrees, translation "
            f"{reg.translation_mm:.1f} mm"
            + (f", quality {reg.quality:.2f}" if reg.quality is not None else "")
        )
        print("transform (current LPS mm -> prior LPS mm):")
        for row in reg.matrix:
            print("  " + " ".join(f"{v:10.4f}" for v in row))
        if args.output:
            print(f"wrote {args.output} ({args.mode})")
    if not same:
        print(f"ownscan {NAME}: warning: forced: {'; '.join(differences)}", file=sys.stderr)
    for note in reg.notes:
        print(f"ownscan {NAME}: warning: {note}", file=sys.stderr)
    return 1 if reg.poor else 0


def _registration(
    args: argparse.Namespace, library: Library | None, prior: _Side, current: _Side
) -> tuple[Registration, bool]:
    """Scanner coordinates, the library's kept result for this pair, or a new registration
    (kept when both series are in the library). Returns it and whether it was kept."""
    from ownscan.core.compare import (
        RIGID_METHOD,
        load_registration,
        register,
        save_registration,
        scanner_registration,
    )

    if args.no_register:
        return scanner_registration(prior.volume, current.volume), False
    pair = None
    if library is not None and prior.library_uid and current.library_uid:
        pair = (prior.library_uid, current.library_uid)
    if pair is not None and library is not None and not args.again:
        kept = load_registration(library, *pair, RIGID_METHOD)
        if kept is not None:
            return kept, True
    reg = register(prior.volume, current.volume)
    if pair is not None and library is not None:
        save_registration(library, *pair, reg)
    return reg, False


def _write_picture(path: str, rgb: Any, prior: Volume, current: Volume) -> None:
    """The comparison picture as ``path``; a PNG carries both series' warnings (printed above)
    in its ``Warning`` text chunk, each said of the prior or the current, as ``render`` does."""
    from ownscan.core.recorded import png_bytes, recorded_warnings

    if not str(path).lower().endswith(".png"):  # another format Pillow knows by its suffix
        from PIL import Image

        Image.fromarray(rgb, "RGB").save(path)
        return
    said = [f"prior: {w}" for w in recorded_warnings(prior)]
    said += [f"current: {w}" for w in recorded_warnings(current)]
    with open(path, "wb") as f:
        f.write(png_bytes(rgb, said))
