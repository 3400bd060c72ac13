"""The viewer's window has no depth or stencil buffer (nothing it draws tests either; on
llvmpipe that buffer lived in host memory, 4 bytes a pixel) and still draws its views and
3D picture: a real window on Xvfb."""

from __future__ import annotations

from viewer_phantom import phantom

from ownscan.core.viewer import Viewer, ViewerOptions


def test_the_window_has_no_depth_or_stencil_buffer_and_draws(xvfb):
    with Viewer([phantom(n=32)], ViewerOptions(size=(400, 300))) as v:
        import OpenGL.GL as gl  # after the window: PyOpenGL on EGL, as _window.py sets it up

        v.win.make_current()
        v.ctx.screen.use()
        kinds = {
            name: int(
                gl.glGetFramebufferAttachmentParameteriv(
                    gl.GL_FRAMEBUFFER, attachment, gl.GL_FRAMEBUFFER_ATTACHMENT_OBJECT_TYPE
                )
            )
            for name, attachment in (
                ("depth", gl.GL_DEPTH),
                ("stencil", gl.GL_STENCIL),
                ("colour", gl.GL_BACK_LEFT),
            )
        }
        default = int(gl.GL_FRAMEBUFFER_DEFAULT)
        assert kinds == {"depth": int(gl.GL_NONE), "stencil": int(gl.GL_NONE), "colour": default}
        v.frame()
        shot = v.frame(capture=True)
        assert shot is not None
        lay = v.layout()
        for name in ("axial", "3d"):
            r = lay.views[name]
            assert shot[r.y + 20 : r.y + r.h - 20, r.x + 20 : r.x + r.w - 20].std() > 10, name
