"""The built-in visualisation modes: mpr, mip, minip, xray, dvr, iso.

Each mode is registered exactly as a third party registers one: an ``ownscan_modes`` hook that
returns :class:`~ownscan.core.render.VisualisationMode` objects, each carrying its GLSL
(``shaders/mode_*.glsl``) and the array implementation of the same maths (the classes below,
written line for line against the GLSL so both renderers draw the same picture).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ownscan.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from ownscan.core.render import ArrayContext, VisualisationMode

# numpy and the renderer are imported where they are used, not when the plugin host loads this
# module: every command loads the host, most never draw (about 60 ms of start-up).

__all__ = ["AverageArray", "DvrArray", "IsoArray", "MinipArray", "MipArray", "builtin_modes"]

# the constants of the modes' GLSL, for their array twins
ISO_COLOUR = (0.92, 0.86, 0.76)  # shaders/mode_iso.glsl: ISO_COLOUR
EARLY_STOP_ALPHA = 0.99  # shaders/mode_dvr.glsl: early ray termination
ISO_REFINE = 4  # shaders/mode_iso.glsl: regula falsi steps refining the hit


class MipArray:
    """``shaders/mode_mip.glsl``: acc.x = largest value, acc.y = samples taken."""

    def begin(self, acc: Any, aux: Any) -> None:
        acc[:] = 0
        aux[:] = 0

    def sample(self, acc: Any, aux: Any, idx: Any, pos_tex: Any, ctx: ArrayContext) -> Any:
        v = ctx.sample(pos_tex)
        acc[idx, 0] = ctx.xp.maximum(acc[idx, 0], v)
        acc[idx, 1] += 1
        return acc[idx, 0] >= 1.0

    def end(self, acc: Any, aux: Any, hit: Any, ctx: ArrayContext) -> Any:
        return _grey(acc[:, 0], hit & (acc[:, 1] > 0), ctx)


class MinipArray:
    """``shaders/mode_minip.glsl``: acc.x = smallest value, acc.y = samples taken."""

    def begin(self, acc: Any, aux: Any) -> None:
        acc[:] = 0
        acc[:, 0] = 1
        aux[:] = 0

    def sample(self, acc: Any, aux: Any, idx: Any, pos_tex: Any, ctx: ArrayContext) -> Any:
        v = ctx.sample(pos_tex)
        acc[idx, 0] = ctx.xp.minimum(acc[idx, 0], v)
        acc[idx, 1] += 1
        return acc[idx, 0] <= 0.0

    def end(self, acc: Any, aux: Any, hit: Any, ctx: ArrayContext) -> Any:
        return _grey(acc[:, 0], hit & (acc[:, 1] > 0), ctx)


class AverageArray:
    """``shaders/mode_average.glsl`` (xray, mpr): acc.x sums, acc.y counts."""

    def begin(self, acc: Any, aux: Any) -> None:
        acc[:] = 0
        aux[:] = 0

    def sample(self, acc: Any, aux: Any, idx: Any, pos_tex: Any, ctx: ArrayContext) -> Any:
        acc[idx, 0] += ctx.sample(pos_tex)
        acc[idx, 1] += 1
        return ctx.xp.zeros(len(idx), dtype=bool)

    def end(self, acc: Any, aux: Any, hit: Any, ctx: ArrayContext) -> Any:
        ok = hit & (acc[:, 1] > 0)
        mean = acc[:, 0] / ctx.xp.where(ok, acc[:, 1], 1)
        return _grey(mean, ok, ctx)


class DvrArray:
    """``shaders/mode_dvr.glsl``: front-to-back compositing (the table's opacity is already
    that of one step)."""

    def begin(self, acc: Any, aux: Any) -> None:
        acc[:] = 0
        aux[:] = 0

    def sample(self, acc: Any, aux: Any, idx: Any, pos_tex: Any, ctx: ArrayContext) -> Any:
        xp = ctx.xp
        c = ctx.transfer(ctx.sample(pos_tex))
        seen = c[:, 3] > 0
        done = xp.zeros(len(idx), dtype=bool)
        if not seen.any():
            return done
        idx_s, c, pos = idx[seen], c[seen], pos_tex[seen]
        a = c[:, 3]
        rgb = c[:, :3]
        if ctx.shading:
            rgb = ctx.shade(rgb, ctx.gradient_lps(pos), ctx.ray_dir_lps[idx_s])
        prior = acc[idx_s]
        trans = (1 - prior[:, 3]) * a
        prior[:, :3] += trans[:, None] * rgb
        prior[:, 3] += trans
        acc[idx_s] = prior
        done[seen] = prior[:, 3] >= EARLY_STOP_ALPHA
        return done

    def end(self, acc: Any, aux: Any, hit: Any, ctx: ArrayContext) -> Any:
        return acc


class IsoArray:
    """``shaders/mode_iso.glsl``: first hit of the iso value, refined by regula falsi, shaded."""

    def begin(self, acc: Any, aux: Any) -> None:
        acc[:] = 0
        aux[:] = 0

    def sample(self, acc: Any, aux: Any, idx: Any, pos_tex: Any, ctx: ArrayContext) -> Any:
        xp = ctx.xp
        v = ctx.sample(pos_tex)
        iso = ctx.parameters["iso_value"]
        over = v >= iso
        if not over.any():
            return over
        idx_h, pos, v = idx[over], pos_tex[over], v[over]
        a_pos = pos - ctx.ray_dir_tex[idx_h] * ctx.step_mm  # the previous sample
        fa = ctx.sample(a_pos) - iso
        b_pos, fb = pos, v - iso
        below = fa < 0  # else the ray starts inside: the hit is the sample
        hit_pos = pos
        if below.any():
            a_pos, fa, b_pos, fb = a_pos[below], fa[below], b_pos[below], fb[below]
            for _ in range(ISO_REFINE):  # regula falsi on the interpolated field
                m_pos = _mix(a_pos, b_pos, xp.clip(fa / (fa - fb), 0, 1))
                fm = ctx.sample(m_pos) - iso
                low = fm < 0
                a_pos = xp.where(low[:, None], m_pos, a_pos)
                fa = xp.where(low, fm, fa)
                b_pos = xp.where(low[:, None], b_pos, m_pos)
                fb = xp.where(low, fb, fm)
            hit_pos = pos.copy()
            hit_pos[below] = _mix(a_pos, b_pos, xp.clip(fa / (fa - fb), 0, 1))
        colour = xp.broadcast_to(xp.asarray(ISO_COLOUR, dtype=xp.float32), (len(idx_h), 3))
        shaded = ctx.shade_full(colour, ctx.gradient_lps(hit_pos), ctx.ray_dir_lps[idx_h])
        acc[idx_h, :3] = shaded
        acc[idx_h, 3] = 1
        return over

    def end(self, acc: Any, aux: Any, hit: Any, ctx: ArrayContext) -> Any:
        return acc


def _mix(a: Any, b: Any, t: Any) -> Any:
    """GLSL's ``mix(a, b, t)`` for rows of points ``a``, ``b`` and weights ``t``."""
    return a * (1 - t)[:, None] + b * t[:, None]


def _grey(value: Any, ok: Any, ctx: ArrayContext) -> Any:
    xp = ctx.xp
    g = ctx.window_level(value)
    out = xp.zeros((len(value), 4), dtype=xp.float32)
    out[:, :3] = g[:, None]
    out[:, 3] = 1
    out[~ok] = 0
    return out


def builtin_modes() -> list[VisualisationMode]:
    """The six built-in modes."""
    from ownscan.core.render import VisualisationMode, load_shader

    average = AverageArray()
    return [
        VisualisationMode(
            name="mpr",
            description="a slice facing the camera (axial, coronal, sagittal, oblique), "
            "windowed; optional thick slab (mean)",
            glsl=load_shader("mode_mpr.glsl"),
            array=average,
            slab=True,
            default_view="axial",
        ),
        VisualisationMode(
            name="mip",
            description="maximum intensity projection (vessels, bone)",
            glsl=load_shader("mode_mip.glsl"),
            array=MipArray(),
            auto_window="maximum",
            # bricks not above max(running maximum, window's low end) are jumped over
            skip="maximum",
        ),
        VisualisationMode(
            name="minip",
            description="minimum intensity projection (airways, lung)",
            glsl=load_shader("mode_minip.glsl"),
            array=MinipArray(),
            skip="minimum",
        ),
        VisualisationMode(
            name="xray",
            description="average intensity along each ray: a radiograph-like projection",
            glsl=load_shader("mode_xray.glsl"),
            array=average,
            auto_window="average",
        ),
        VisualisationMode(
            name="dvr",
            description="direct volume rendering: transfer function, gradient shading, "
            "opacity correction",
            glsl=load_shader("mode_dvr.glsl"),
            array=DvrArray(),
            uses_transfer_function=True,
            skip="opacity",
            jitter=True,
        ),
        VisualisationMode(
            name="iso",
            description="isosurface: first hit of a threshold (iso_value; default: a "
            "quarter of the window below its level), shaded",
            glsl=load_shader("mode_iso.glsl"),
            array=IsoArray(),
            skip="threshold",
            jitter=True,
            parameters={"iso_value": float("nan")},
            value_parameters={"iso_value"},
        ),
    ]


@hookimpl
def ownscan_modes() -> list[VisualisationMode]:
    return builtin_modes()
