"""An empty R16 volume texture's storage is made with the GIL let go (``_storage``), while the
preparation's first pass (block bounds, and with them the value range) runs on worker threads
(``prepare_volume``'s ``meanwhile``). The texture holds and gives back exactly what moderngl's
own would; without the GL library moderngl makes it as before; the pictures do not change."""

from __future__ import annotations

import ctypes
import threading
from dataclasses import replace

import moderngl
import numpy as np
import pytest
from test_memory import _ct

from ownscan.core.render import GLRenderer, GpuVolume, _setup, prepare_volume
from ownscan.core.render import _storage as storage
from ownscan.core.render._gpu import texture3d

SIZE = (50, 36, 41)  # x, y, z


def _texels(seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, SIZE[::-1], dtype=np.uint16)


def test_the_storage_call_lets_the_gil_go():
    lib = storage._gl()
    assert lib is not None  # Debian's glvnd libOpenGL here
    assert not isinstance(lib, ctypes.PyDLL)  # a CDLL's calls release the GIL


def test_the_texture_holds_what_moderngls_own_holds(gl_ctx, gl_check):
    data = _texels()
    tex = texture3d(gl_ctx, SIZE, 1, None, "nu2")
    own = gl_ctx.texture3d(SIZE, 1, data.tobytes(), dtype="nu2")
    try:
        assert isinstance(tex, storage.StoredTexture3D) and tex.size == SIZE
        nx, ny, _ = SIZE
        for k0 in range(0, SIZE[2], 8):  # slab by slab, as GpuVolume writes
            part = np.ascontiguousarray(data[k0 : k0 + 8])
            tex.write(part.data, viewport=(0, 0, k0, nx, ny, len(part)))
        assert tex.read() == own.read() == data.tobytes()
        assert tex.read(alignment=4) == own.read(alignment=4)  # padded rows
        tex.write(data[::-1].copy().tobytes())  # the whole texture, no viewport
        assert tex.read() == data[::-1].tobytes()
        with pytest.raises(NotImplementedError):
            tex.read_into(bytearray(data.nbytes))
    finally:
        tex.release()
        own.release()


def test_without_the_gl_library_moderngl_makes_it_with_the_same_texels(
    gl_ctx, gl_check, monkeypatch
):
    vol = _ct((41, 36, 50))
    fast = GpuVolume(gl_ctx, vol)
    monkeypatch.setattr(storage, "_gl", lambda: None)
    slow = GpuVolume(gl_ctx, replace(vol))
    try:
        assert isinstance(fast.textures[0], storage.StoredTexture3D)
        assert type(slow.textures[0]) is moderngl.Texture3D
        assert fast.textures[0].read() == slow.textures[0].read()
    finally:
        fast.release()
        slow.release()


def test_pictures_are_those_of_moderngls_textures(monkeypatch):
    from scenes import TF

    from ownscan.core.plugin_host import PluginHost
    from ownscan.core.render import Camera, Scene

    modes = {m.name: m for m in PluginHost().modes()}
    vol = _ct((41, 36, 50))
    pictures = []
    for use_storage in (True, False):
        if not use_storage:
            monkeypatch.setattr(storage, "_gl", lambda: None)
        renderer = GLRenderer()
        try:
            for mode in ("mip", "dvr"):
                scene = Scene(replace(vol), modes[mode], transfer_function=TF)
                pictures.append(renderer.render(scene, Camera(azimuth=30, elevation=20), (48, 40)))
        finally:
            renderer.close()
    for a, b in zip(pictures[:2], pictures[2:], strict=True):
        np.testing.assert_array_equal(a, b)


def test_meanwhile_runs_on_the_calling_thread_while_the_bounds_are_made(monkeypatch):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 600)  # many slabs
    monkeypatch.setattr(_setup, "WORKERS", 1)
    made = threading.Event()
    bounds = _setup._slab_bounds

    def noted(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.set()
        return bounds(*args, **kwargs)

    monkeypatch.setattr(_setup, "_slab_bounds", noted)
    caller = threading.get_ident()
    calls: list[bool] = []

    def meanwhile() -> None:
        assert threading.get_ident() == caller  # where the GL context is current
        calls.append(made.wait(60))  # a worker makes bounds while this runs (no deadlock)

    vol = _ct((30, 20, 22))
    prep = prepare_volume(vol, meanwhile=meanwhile)
    assert calls == [True]
    assert (prep.value_min, prep.value_max) == (vol.voxels.min(), vol.voxels.max())
    prepare_volume(vol, meanwhile=meanwhile)  # from the cache: nothing to overlap
    assert calls == [True]


def test_a_failing_meanwhile_stops_the_pass_and_caches_nothing(monkeypatch):
    monkeypatch.setattr(_setup, "SLAB_VOXELS", 600)
    vol = _ct((30, 20, 22))

    def refuse() -> None:
        raise MemoryError("no room")

    with pytest.raises(MemoryError, match="no room"):
        prepare_volume(vol, meanwhile=refuse)
    called: list[int] = []
    prepare_volume(vol, meanwhile=lambda: called.append(1))  # made afresh
    assert called == [1]


def test_the_calling_thread_makes_queued_slabs_rather_than_wait():
    from concurrent.futures import ThreadPoolExecutor

    caller = threading.get_ident()
    helped = threading.Event()
    where: dict[int, int] = {}

    def work(k: int) -> int:
        where[k] = threading.get_ident()
        if k == 0:  # the worker's first slab waits until the caller has made the next one
            helped.wait(30)
        if k == 1 and threading.get_ident() == caller:
            helped.set()
        return 10 * k

    with ThreadPoolExecutor(1) as pool:
        got = list(_setup._in_order(pool, work, range(6), 2, helps=True))
    assert got == [(k, 10 * k) for k in range(6)]  # in order, each once
    assert helped.is_set() and where[0] != caller and where[1] == caller
