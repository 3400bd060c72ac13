"""The 3D view: ``ownscan.core.render``'s GL ray-caster drawing in the window's own context.

The renderer returns an RGBA image; it is uploaded into a texture that a quad draws into the
view's viewport. The image is only re-rendered when what it shows changes (camera, mode,
window, transfer function, size, quality), so 2D interaction does not pay for ray-casting.
While the user moves the 3D view, the renderer's ``interactive`` pass (half the rays per side,
twice the step) is used; the next still frame refines it.
"""

from __future__ import annotations

from typing import Any

import moderngl
import numpy as np

from ownscan.core.viewer._gpu import Quad, gl_viewport, program, set_uniform
from ownscan.core.viewer._layout import Rect
from ownscan.core.viewer._state import Camera3D
from ownscan.core.volume import Volume, WindowPreset

__all__ = ["ThreeDView"]


class ThreeDView:
    """Renders a volume with a visualisation mode and draws the picture into a viewport.

    Parameters
    ----------
    ctx
        The window's moderngl context; the renderer shares it.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        from ownscan.core.render import GLRenderer

        self.ctx = ctx
        self.renderer = GLRenderer(ctx)
        self.blit = program(ctx, "viewer_blit.glsl")
        self.quad = Quad(ctx, self.blit)
        self.texture: moderngl.Texture | None = None
        self.key: object = None  # what the texture shows
        self.draft = False
        self.notes: list[str] = []

    def render(
        self,
        volume: Volume,
        size: tuple[int, int],
        camera: Camera3D,
        mode: Any,
        window: tuple[float, float],
        transfer_function: Any,
        interactive: bool,
    ) -> None:
        """Ray-cast a picture of ``size`` pixels into the view's texture."""
        from ownscan.core.render import Camera, Scene

        width, level = window
        scene = Scene(
            volume=volume,
            mode=mode,
            window=WindowPreset("view", max(width, 1e-3), level),
            transfer_function=transfer_function if mode.uses_transfer_function else None,
        )
        cam = Camera(
            azimuth=camera.azimuth,
            elevation=camera.elevation,
            zoom=camera.zoom,
            pan_mm=camera.pan_mm,
        )
        image = self.renderer.render(scene, cam, size, interactive=interactive)
        self.notes = list(self.renderer.notes)
        # the renderer's image is top row first; GL textures start at the bottom row
        rgba = np.ascontiguousarray(image[::-1])
        if self.texture is None or self.texture.size != size:
            if self.texture is not None:
                self.texture.release()
            self.texture = self.ctx.texture(size, 4)
            self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.write(rgba.tobytes())
        self.draft = interactive

    def draw(self, rect: Rect, fb_height: int) -> None:
        """Draw the last picture into ``rect`` of the bound framebuffer."""
        if self.texture is None:
            return
        gl_viewport(self.ctx, rect, fb_height)
        self.texture.use(0)
        set_uniform(self.blit, "u_image", 0)
        self.quad.draw()

    def release(self) -> None:
        self.renderer.close()
        self.quad.release()
        self.blit.release()
        if self.texture is not None:
            self.texture.release()
