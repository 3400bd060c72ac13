"""The wheel: built from a clean copy of the tracked files, installed into a fresh virtual
environment, it imports all three packages and `ownscan info --sample` works (package data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    git = shutil.which("git")
    assert git, "git is needed to list the tracked files"
    files = (
        subprocess.run([git, "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    src = tmp_path / "src"
    for f in filter(None, files):
        if (REPO / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, src / f)
    dist = tmp_path / "dist"
    # build isolation: pip fetches the build backend pyproject.toml asks for (setuptools>=77)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
    )
    (wheel,) = dist.glob("ownscan-*.whl")
    env_dir = tmp_path / "venv"
    # The dependencies are the ones this test runs with: their site-packages folders are named
    # in a .pth file of the new environment, so they come after its own site-packages on the
    # path. Not ``system_site_packages``: that is the base interpreter's, which need not hold
    # them (this machine's pyenv has numpy but not pydicom). A folder named by a .pth is not a
    # site folder, so the .pth files in it (the editable install's finder) are not run, and
    # importlib.metadata keeps the first ``ownscan`` it finds on the path: the wheel's.
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "ownscan-test-deps.pth").write_text("".join(f"{d}\n" for d in sorted(ours)))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    code = (
        "import ownscan.core, ownscan.plugins, ownscan.shaders, pathlib; "
        "print(pathlib.Path(ownscan.core.__file__).parent)"
    )
    where = subprocess.run(
        [str(py), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert where.startswith(str(env_dir)), where  # the installed copy, not the source tree
    r = subprocess.run(
        [str(env_dir / "bin" / "ownscan"), "info", "--sample"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "MR volume 137x192x192" in r.stdout
    v = subprocess.run(
        [str(env_dir / "bin" / "ownscan"), "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert v.stdout.strip() == "ownscan 0.1.0"
