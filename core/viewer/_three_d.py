"""The 3D view: ``ownscan.core.render``'s GL ray-caster drawing in the window's own context.

The renderer leaves its picture on the GPU (:meth:`GLRenderer.render_texture`, a float
texture) and a quad draws that texture into the view's viewport: no read-back, no upload. The
picture is only re-rendered when what it shows changes (camera, mode, window, transfer
function, size, quality), so 2D interaction does not pay for ray-casting. While the user moves
the 3D view, the renderer's ``interactive`` pass (half the rays per side, twice the step) is
drawn enlarged by repeating pixels; the next still frame refines it.
"""

from __future__ import annotations

from typing import Any

import moderngl

from ownscan.core.render._gpu import program, set_uniform
from ownscan.core.viewer._layout import Rect
from ownscan.core.viewer._slices import Quad, gl_viewport
from ownscan.core.viewer._state import Camera3D
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["ThreeDView"]


class ThreeDView:
    """Renders a volume with a visualisation mode and draws the picture into a viewport.

    Parameters
    ----------
    ctx
        The window's moderngl context; the renderer shares it. The renderer is this view's
        alone: its texture holds the last picture until the next :meth:`render`.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        from ownscan.core.render import GLRenderer

        self.ctx = ctx
        self.renderer = GLRenderer(ctx)
        self.blit = program(ctx, "viewer_blit.glsl")
        self.quad = Quad(ctx, self.blit)
        self.texture: Any = None  # the renderer's; never released here
        self.key: object = None  # what the texture shows
        self.draft = False
        self.notes: list[str] = []

    def render(
        self,
        volume: Volume,
        size: tuple[int, int],
        camera: Camera3D | Any,
        mode: Any,
        window: tuple[float, float],
        transfer_function: Any,
        interactive: bool,
    ) -> None:
        """Ray-cast a picture of ``size`` pixels (half of it per side when ``interactive``);
        ``camera`` may also be the renderer's own Camera (a compared prior's, with roll)."""
        from ownscan.core.render import Camera, Scene

        width, level = window
        scene = Scene(
            volume=volume,
            mode=mode,
            window=WindowPreset("view", max(width, 1e-3), level),
            transfer_function=transfer_function if mode.uses_transfer_function else None,
        )
        cam = (
            camera
            if isinstance(camera, Camera)
            else Camera(
                azimuth=camera.azimuth,
                elevation=camera.elevation,
                zoom=camera.zoom,
                pan_mm=camera.pan_mm,
            )
        )
        self.texture = self.renderer.render_texture(scene, cam, size, interactive=interactive)
        self.notes = list(self.renderer.notes)
        self.draft = interactive

    def draw(self, rect: Rect, fb_height: int) -> None:
        """Draw the last picture into ``rect`` of the bound framebuffer."""
        if self.texture is None:
            return
        gl_viewport(self.ctx, rect, fb_height)
        self.texture.use(0)
        set_uniform(self.blit, "u_image", 0)
        set_uniform(self.blit, "u_size_px", (float(rect.w), float(rect.h)))
        self.quad.draw()

    def release(self) -> None:
        self.texture = None
        self.renderer.close()
        self.quad.release()
        self.blit.release()
