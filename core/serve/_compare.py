"""The compare routes of ``ownscan serve``: proposed priors, the registration, the panes.

* ``GET /api/series/{uid}/priors``: the library's proposed priors of a series (best first, with
  score and reasons) and every other image series, each with whether it is the same patient
  and, if not, which identifiers differ (:func:`ownscan.core.compare.patient_check`).
* ``POST /api/compare/{prior}/{current}`` (body ``{"register": true, "force": false,
  "again": false}``): the registration (kept in the library and reused, as ``ownscan compare``
  does; computed on a worker thread), as ``ownscan compare --json`` gives it, plus both series'
  dates and descriptions and, per plane, the pixel grid the panes use. A different patient is a
  409 naming the identifiers, unless ``force``.
* ``GET /api/compare/{prior}/{current}/pane.png?which=prior|current|difference|overlay&plane=
  axial:POS&width=W&level=L&register=1&force=0``: one pane, drawn exactly as ``ownscan compare
  -o`` draws its panels (``ownscan.core.compare``: the current's plane, the prior sampled
  through the registration, trilinear, dark blue where a series has no data).
* ``GET /api/compare/{prior}/{current}/render.png?which=prior|current&mode=&azimuth=&elevation=
  &zoom=&window=&level=&width=&height=&register=1&force=0``: a 3D pane, drawn by the server's
  renderer as ``render.png`` draws it. The options are the current's camera; the prior's frame
  is drawn with that camera turned by the registration (:func:`ownscan.core.compare.
  linked_camera`, the desktop viewer's maths) and the window mapped through the intensity
  match, so both panes show the same anatomy from the same side.

The page links the panes itself: the crosshair is a point of the current's patient space, and
the prior's pane at the same pixel shows the prior at ``M p``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ownscan.core._stacks import split_id, stack_id
from ownscan.core.serve._service import BadRequest, Conflict, NotFound, format_date

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from ownscan.core.compare import Registration
    from ownscan.core.render import Camera
    from ownscan.core.serve._service import Service
    from ownscan.core.volume import Volume

__all__ = ["PANES", "Comparisons", "compare_routes"]

Handler = Callable[["Request"], Awaitable["Response"]]

PANES = ("prior", "current", "difference", "overlay")
_PLANES = ("axial", "coronal", "sagittal")


def _series_json(info: Any, uid: str) -> dict[str, Any]:
    return {
        "series_uid": uid,
        "study_date": format_date(info.study_date),
        "description": info.series_description,
        "modality": info.modality,
    }


class Comparisons:
    """The registrations of one server, each pair computed once (and kept in the library).

    Parameters
    ----------
    service
        The server's library service (volumes, the library and its lock).
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self._done: dict[tuple[str, str, bool], tuple[Registration, tuple[float, float, str], bool]]
        self._done = {}
        self._locks: dict[tuple[str, str, bool], threading.Lock] = {}
        self._lock = threading.Lock()

    # -- priors --------------------------------------------------------------------------------
    def priors_json(self, uid: str) -> dict[str, Any]:
        """``/api/series/{uid}/priors``."""
        from ownscan.core.compare import patient_check, propose_priors
        from ownscan.core.library import LibraryError
        from ownscan.core.volume import SeriesInfo

        def build(lib: Any) -> dict[str, Any]:
            try:  # a stack of a series of several is UID~N (_stacks.py)
                shown = lib.resolve_stack(uid)
            except LibraryError as exc:
                raise NotFound(f"no series {uid} in the library ({exc})") from exc
            uid_full = split_id(shown)[0]
            patients = {p.key: p for p in lib.patients()}
            studies = {st.study_uid: st for st in lib.studies()}
            info: dict[str, SeriesInfo] = {}
            names: dict[str, list[tuple[str, str]]] = {}  # each series' stacks: (id, label)
            for se in lib.series():
                st = studies.get(se.study_uid)
                # presentation states (PR) are marks on images, not images: /api/library
                # leaves them out, and so does the list of series to compare with
                if st is None or se.is_document or se.modality == "PR":
                    continue
                p = patients.get(st.patient_key)
                info[se.series_uid] = SeriesInfo(
                    patient_name=p.name if p else "",
                    patient_id=p.patient_id if p else "",
                    patient_birth_date=p.birth_date if p else "",
                    study_date=st.date,
                    series_description=se.description,
                    modality=se.modality,
                )
                several = se.stacks is not None and len(se.stacks) > 1
                names[se.series_uid] = (
                    [(stack_id(se.series_uid, st.number), st.label) for st in se.stacks or ()]
                    if several
                    else [(se.series_uid, "")]
                )
            cur = info[uid_full]

            def item(shown: str, **extra: Any) -> dict[str, Any]:
                base = split_id(shown)[0]
                same, diff = patient_check(info[base], cur)
                label = dict(names.get(base, [])).get(shown, "")
                return {
                    **_series_json(info[base], shown),
                    "stack": label or None,
                    "same_patient": same,
                    "patient_differences": diff,
                    **extra,
                }

            proposed = [
                item(c.uid, score=c.score, reasons=list(c.reasons))
                for c in propose_priors(lib, shown)
            ]
            # the current itself (its plain UID is its stack 1)
            itself = {shown, uid_full, stack_id(uid_full, split_id(shown)[1] or 1)}
            taken = {p["series_uid"] for p in proposed} | itself
            # every other series, a series of several stacks stack by stack
            others = [item(name) for u in info for name, _ in names[u] if name not in taken]
            # same patient first, then the most recent first (as the desktop lists them)
            others.sort(key=lambda o: o["study_date"], reverse=True)
            others.sort(key=lambda o: not o["same_patient"])
            return {"series_uid": shown, "proposed": proposed, "others": others}

        return self.service.query(build)

    # -- registration --------------------------------------------------------------------------
    def _volumes(self, prior_uid: str, current_uid: str) -> tuple[Volume, Volume]:
        prior = self.service.loaded(prior_uid).volume
        current = self.service.loaded(current_uid).volume
        if prior.is_2d or current.is_2d:
            raise Conflict("comparing needs two 3D series")
        return prior, current

    def registration(
        self, prior_uid: str, current_uid: str, register: bool, force: bool, again: bool = False
    ) -> tuple[Registration, tuple[float, float, str], bool, tuple[str, ...]]:
        """The pair's registration (computed once), its intensity match, whether the library
        kept it, and the identifiers that differ (a comparison of different patients only
        when ``force``). Blocking: call from a worker thread."""
        from ownscan.core.compare import (
            RIGID_METHOD,
            intensity_match,
            is_available,
            load_registration,
            patient_check,
            save_registration,
            scanner_registration,
        )
        from ownscan.core.compare import (
            register as do_register,
        )

        if prior_uid == current_uid:
            raise Conflict("a series compared with itself")
        prior, current = self._volumes(prior_uid, current_uid)
        same, differences = patient_check(prior.info, current.info)
        if not same and not force:
            raise Conflict(
                "not the same patient: " + "; ".join(differences) + " (force to compare anyway)"
            )
        key = (prior_uid, current_uid, register)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one registration of a pair at a time; the others wait for it
            if again:
                self._done.pop(key, None)
            if key in self._done:
                reg, match, reused = self._done[key]
                return reg, match, reused, tuple(differences)
            reused = False
            stored = None
            if register and not again:
                stored = self.service.query(
                    lambda lib: load_registration(lib, prior_uid, current_uid, RIGID_METHOD)
                )
            if stored is not None:
                reg, reused = stored, True
            elif register and is_available():
                reg = do_register(prior, current)
                self.service.query(lambda lib: save_registration(lib, prior_uid, current_uid, reg))
            else:
                reg = scanner_registration(prior, current)
                if register:  # asked for, but SimpleITK is missing: say so
                    from ownscan.core.compare import INSTALL_HINT, Registration

                    reg = Registration(reg.matrix, reg.method, notes=(INSTALL_HINT, *reg.notes))
            match = intensity_match(prior, current, reg)
            self._done[key] = (reg, match, reused)
            return reg, match, reused, tuple(differences)

    def _stack(self, uid: str) -> str | None:
        """Which stack of a series of several ``uid`` shows (its label), else None."""
        shown = self.service.loaded(uid).stacks.get("stack")
        return str(shown["label"]) if shown else None

    def registration_json(
        self, prior_uid: str, current_uid: str, register: bool, force: bool, again: bool
    ) -> dict[str, Any]:
        """``POST /api/compare/{prior}/{current}``."""
        from ownscan.core.compare import difference_scale, plane_through
        from ownscan.core.viewer._geometry import PLANES, slice_step_mm

        reg, match, reused, differences = self.registration(
            prior_uid, current_uid, register, force, again
        )
        prior, current = self._volumes(prior_uid, current_uid)
        win = current.default_window()
        full, units = difference_scale(prior, current, win.width)
        planes = {}
        for name in _PLANES:
            pl = plane_through(current, name)
            axis = {"axial": 2, "coronal": 1, "sagittal": 0}[name]
            corners = current.index_to_lps(
                np.array(
                    [
                        (i, j, k)
                        for i in (0, current.shape[2] - 1)
                        for j in (0, current.shape[1] - 1)
                        for k in (0, current.shape[0] - 1)
                    ],
                    dtype=np.float64,
                )
            )
            planes[name] = {
                "corner": list(pl.corner),
                "right": list(pl.right),
                "down": list(pl.down),
                "pixel_mm": pl.pixel_mm,
                "size": list(pl.size),
                "axis": axis,
                "range": [float(corners[:, axis].min()), float(corners[:, axis].max())],
                "step": slice_step_mm(current, PLANES[name].normal()),
            }
        return {
            **reg.to_dict(),
            "reused": reused,
            "intensity_match": {"scale": match[0], "offset": match[1], "note": match[2]},
            "same_patient": not differences,
            "patient_differences": list(differences),
            # each side's warnings (what the viewer's header shows of it): the page says them
            # over the panes, as the picture of either is no truer than its series
            "prior": {
                **_series_json(prior.info, prior_uid),
                "stack": self._stack(prior_uid),
                "warnings": list(prior.warnings),
            },
            "current": {
                **_series_json(current.info, current_uid),
                "stack": self._stack(current_uid),
                "warnings": list(current.warnings),
            },
            "window": {"width": win.width, "level": win.level},
            "difference_full_scale": full,
            "difference_units": units,
            "planes": planes,
        }

    def pane_png(
        self,
        prior_uid: str,
        current_uid: str,
        which: str,
        plane: str,
        window: tuple[float, float] | None,
        register: bool,
        force: bool,
    ) -> bytes:
        """``GET /api/compare/{prior}/{current}/pane.png``: one pane as PNG."""
        from ownscan.core.compare import (
            difference_rgb,
            difference_scale,
            grey_rgb,
            overlay_rgb,
            plane_through,
            sample,
        )
        from ownscan.core.recorded import png_bytes, recorded_warnings

        if which not in PANES:
            raise NotFound(f"no pane {which!r}; panes: {', '.join(PANES)}")
        reg, (scale, offset, _note), _reused, _diff = self.registration(
            prior_uid, current_uid, register, force
        )
        prior, current = self._volumes(prior_uid, current_uid)
        # compare_planes' sampling, with the intensity match made once with the registration
        points = plane_through(current, plane).points()
        win = current.default_window()
        width, level = window if window is not None else (win.width, win.level)
        cur = sample(current, points) if which != "prior" else None
        pri = sample(prior, reg.apply(points)) * scale + offset if which != "current" else None
        if which == "prior":
            assert pri is not None
            rgb = grey_rgb(pri, width, level)
        elif which == "current":
            assert cur is not None
            rgb = grey_rgb(cur, width, level)
        elif which == "difference":
            assert cur is not None and pri is not None
            rgb = difference_rgb(cur - pri, difference_scale(prior, current, width)[0])
        else:
            assert cur is not None and pri is not None
            rgb = overlay_rgb(cur, pri, width, level)
        # each side's warnings in the picture's Warning chunk, as `ownscan compare -o` writes
        said = [f"prior: {w}" for w in recorded_warnings(prior)]
        said += [f"current: {w}" for w in recorded_warnings(current)]
        return png_bytes(np.ascontiguousarray(rgb), said)

    def frame(
        self,
        prior_uid: str,
        current_uid: str,
        which: str,
        options: dict[str, Any],
        size: tuple[int, int],
        register: bool,
        force: bool,
    ) -> tuple[Volume, dict[str, Any], Camera | None]:
        """What ``render.png?which=`` draws: the volume, its render options and, for the prior,
        the camera turned by the registration (:func:`ownscan.core.compare.linked_camera`: the
        current's view directions turned by ``M``'s rotation, the same point at the centre,
        the same mm per pixel). Blocking: call from a worker thread."""
        from ownscan.core.compare import linked_camera
        from ownscan.core.plugin_host import get_host
        from ownscan.core.render import view_from_options

        if which not in ("prior", "current"):
            raise NotFound(f"no 3D pane {which!r}; panes: prior, current")
        reg, (scale, offset, _note), _reused, _diff = self.registration(
            prior_uid, current_uid, register, force
        )
        prior, current = self._volumes(prior_uid, current_uid)
        if which == "current":
            return current, options, None
        try:
            _scene, camera = view_from_options(current, options, get_host())
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        # the current's window (given, else its default, which its frame is drawn with)
        # through the intensity match, as the 2D panes are drawn: a window-relative transfer
        # function (MR) then colours the same tissue alike in both panes
        if options.get("window") is not None and options.get("level") is not None:
            width, level = float(options["window"]), float(options["level"])
        else:
            win = current.default_window()
            width, level = win.width, win.level
        mapped = {**options, "window": width / scale, "level": (level - offset) / scale}
        return prior, mapped, linked_camera(camera, current, prior, reg.matrix, size)


def compare_routes(service: Service, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The routes above, each behind ``guarded`` (the app's JSON errors)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from ownscan.core.serve._service import check_uid

    comparisons = Comparisons(service)

    def flag(request: Request, name: str, default: bool) -> bool:
        text = request.query_params.get(name)
        return default if text is None else text not in ("0", "false", "")

    async def priors(request: Request) -> Response:
        uid = check_uid(request.path_params["uid"])
        return JSONResponse(await run_in_threadpool(comparisons.priors_json, uid))

    async def registration(request: Request) -> Response:
        prior, current = (check_uid(request.path_params[k]) for k in ("prior", "current"))
        try:
            body = await request.json() if await request.body() else {}
        except ValueError as exc:
            raise BadRequest("the body is not JSON") from exc
        if not isinstance(body, dict):
            raise BadRequest("the body is a JSON object")
        result = await run_in_threadpool(
            comparisons.registration_json,
            prior,
            current,
            bool(body.get("register", True)),
            bool(body.get("force", False)),
            bool(body.get("again", False)),
        )
        return JSONResponse(result)

    async def pane(request: Request) -> Response:
        prior, current = (check_uid(request.path_params[k]) for k in ("prior", "current"))
        q = request.query_params
        window = None
        if "width" in q and "level" in q:
            try:
                window = (max(float(q["width"]), 1e-3), float(q["level"]))
            except ValueError as exc:
                raise BadRequest("width and level are numbers") from exc
        png = await run_in_threadpool(
            comparisons.pane_png,
            prior,
            current,
            q.get("which", "current"),
            q.get("plane", "axial"),
            window,
            flag(request, "register", True),
            flag(request, "force", False),
        )
        return Response(png, media_type="image/png", headers={"cache-control": "no-store"})

    async def render(request: Request) -> Response:
        from ownscan.core.serve._app import _render_options

        prior, current = (check_uid(request.path_params[k]) for k in ("prior", "current"))
        options, size = _render_options(request)
        volume, opts, camera = await run_in_threadpool(
            comparisons.frame,
            prior,
            current,
            request.query_params.get("which", "current"),
            options,
            size,
            flag(request, "register", True),
            flag(request, "force", False),
        )
        png = await service.on_render_thread(lambda: service.render_png(volume, opts, size, camera))
        return Response(png, media_type="image/png", headers={"cache-control": "no-store"})

    return [
        Route("/api/series/{uid}/priors", guarded(priors)),
        Route("/api/compare/{prior}/{current}", guarded(registration), methods=["POST"]),
        Route("/api/compare/{prior}/{current}/pane.png", guarded(pane)),
        Route("/api/compare/{prior}/{current}/render.png", guarded(render)),
    ]
