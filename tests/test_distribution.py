"""ownscan as a user installs it: a wheel in a fresh virtual environment, plus a plugin.

The environment is made with ``python -m venv`` (no system site-packages) and ownscan's wheel
is installed with its declared dependencies resolved by pip, so these tests also prove that
pyproject.toml declares everything ownscan imports. With a warm pip cache this takes about ten
seconds; it is done once per module and shared. The example plugin
(examples/ownscan-example-importer) and a deliberately broken plugin are built as wheels and
pip-installed beside ownscan, then driven through the ``ownscan`` command, as a user would.

Tests that install or uninstall something put the environment back as they found it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "ownscan-example-importer"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
EXAMPLE_VERSION = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["version"]
N_FILES = 4
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")

BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=77", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "ownscan-broken-example"
version = "2.0.1"
dependencies = []

[project.entry-points.ownscan]
brokenexample = "ownscan_broken_example"

[tool.setuptools]
py-modules = ["ownscan_broken_example"]
"""
BROKEN_MODULE = "import ownscan_dependency_that_is_not_installed  # noqa\n"


def _env(**extra: str) -> dict[str, str]:
    """The environment for the child processes: nothing of this test run's own environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"OWNSCAN_DISABLE_PLUGINS", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def _run(cmd: list[str], check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(**env), timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@dataclass(frozen=True)
class Wheels:
    ownscan: Path
    example: Path
    broken: Path


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def ownscan(self) -> str:
        return str(self.root / "bin" / "ownscan")

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([self.python, "-m", "pip", *args, "-q"])

    def cli(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        return _run([self.ownscan, *args], check=check, **env)


def _copy_source(dest: Path) -> Path:
    """The files a source distribution of ownscan holds, so the build never writes into REPO."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("core", "plugins", "shaders"):
        shutil.copytree(REPO / name, dest / name, ignore=_IGNORE)
    return dest


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """ownscan, the example plugin and a broken plugin, built as wheels by pip."""
    tmp = tmp_path_factory.mktemp("build")
    src = _copy_source(tmp / "ownscan")
    example = shutil.copytree(EXAMPLE, tmp / "example", ignore=_IGNORE)
    broken = tmp / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text(textwrap.dedent(BROKEN_PYPROJECT))
    (broken / "ownscan_broken_example.py").write_text(BROKEN_MODULE)
    out = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
          str(src), str(example), str(broken)])  # fmt: skip
    return Wheels(
        ownscan=next(out.glob("ownscan-*.whl")),
        example=next(out.glob("ownscan_example_importer-*.whl")),
        broken=next(out.glob("ownscan_broken_example-*.whl")),
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: Wheels) -> Venv:
    """A fresh virtual environment with ownscan's wheel and the example plugin installed."""
    env = Venv(tmp_path_factory.mktemp("venv") / "env")
    _run([sys.executable, "-m", "venv", str(env.root)])
    env.pip("install", str(wheels.ownscan))  # dependencies from the index, as a user gets them
    env.pip("install", str(wheels.example))  # its dependency "ownscan" is already satisfied
    return env


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, mr_head_dir: Path) -> Path:
    """A .tar.gz of a few real MR images."""
    path = tmp_path_factory.mktemp("src") / "head.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted(mr_head_dir.glob("*.dcm"))[:N_FILES]:
            tar.add(str(f), arcname=f"head/{f.name}")
    return path


def test_wheel_holds_the_three_packages_and_the_entry_point(wheels: Wheels) -> None:
    with zipfile.ZipFile(wheels.ownscan) as whl:
        names = set(whl.namelist())
        eps = whl.read(f"ownscan-{VERSION}.dist-info/entry_points.txt").decode()
    for f in (
        "ownscan/core/__init__.py",
        "ownscan/core/py.typed",
        "ownscan/core/commands/plugins.py",
        "ownscan/plugins/folder.py",
        "ownscan/shaders/__init__.py",
        "ownscan/core/serve/_app.py",
        "ownscan/core/serve/static/index.html",  # the browser page is package data
    ):
        assert f in names, f
    assert "ownscan/__init__.py" not in names  # ownscan is a namespace: no top-level code
    assert not [n for n in names if n.startswith(("tests/", "examples/", "core/"))]
    assert "[ownscan]\n" in eps and "\nfolder = ownscan.plugins.folder\n" in eps
    assert "ownscan = ownscan.core.cli:main" in eps


def test_fresh_venv_imports_the_installed_packages(venv: Venv) -> None:
    code = (
        "import ownscan.core, ownscan.plugins, ownscan.shaders\n"
        "print(ownscan.core.__file__)\n"
        "print(ownscan.shaders.__file__)\n"
    )
    out = _run([venv.python, "-c", code]).stdout.splitlines()
    site = venv.root / "lib"
    assert Path(out[0]).is_relative_to(site) and out[0].endswith("ownscan/core/__init__.py")
    assert Path(out[1]).is_relative_to(site)
    assert not Path(out[0]).is_relative_to(REPO)
    assert venv.cli("--version").stdout == f"ownscan {VERSION}\n"
    # package data came along: the bundled sample series reads from the installed package
    sample = venv.cli("info", "--sample")
    assert " image(s)" in sample.stdout and sample.stderr == ""


def test_plugins_lists_the_example_with_distribution_and_version(venv: Venv) -> None:
    out = venv.cli("plugins").stdout
    assert f"folder  ownscan {VERSION}  (built-in)\n    importers: folder\n" in out
    assert f"tar  ownscan-example-importer {EXAMPLE_VERSION}  (third-party)\n" in out
    assert "    importers: tar\n" in out
    assert "BROKEN" not in out
    listing = json.loads(venv.cli("plugins", "--json").stdout)
    (tar,) = [p for p in listing["plugins"] if p["name"] == "tar"]
    assert tar == {
        "name": "tar",
        "distribution": "ownscan-example-importer",
        "version": EXAMPLE_VERSION,
        "builtin": False,
        "contributes": {"importers": ["tar"]},
    }


def test_archive_is_read_through_the_plugin(venv: Venv, archive: Path, mr_head_dir: Path) -> None:
    out = venv.cli("plugins", "--source", str(archive)).stdout
    assert out == (
        f"{archive}\n"
        f"    importer tar (claims it), from plugin tar (ownscan-example-importer "
        f"{EXAMPLE_VERSION})\n"
        f"    found: {N_FILES} application/dicom\n"
    )
    # the same through the Python API in that environment: the bytes are the real instances
    code = (
        "import sys, pydicom\n"
        "from ownscan.core import get_host, ImportOptions\n"
        "imp = get_host().find_importer(sys.argv[1])\n"
        "for item in imp.iter_items(sys.argv[1], ImportOptions()):\n"
        "    print(imp.name, item.origin, pydicom.dcmread(item.open()).SOPInstanceUID)\n"
    )
    lines = _run([venv.python, "-c", code, str(archive)]).stdout.splitlines()
    expected = [
        f"tar {archive}!head/{f.name} {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID}"
        for f in sorted(mr_head_dir.glob("*.dcm"))[:N_FILES]
    ]
    assert lines == expected


def test_info_reads_the_archive_through_the_plugin(venv: Venv, archive: Path) -> None:
    info = venv.cli("info", str(archive))
    assert info.stderr == ""
    # one series of the real MR head, with all the images from the archive (core's format)
    (series,) = [line for line in info.stdout.splitlines() if "Series " in line]
    assert "Series 401" in series and series.endswith(f" {N_FILES} image(s)")
    # forced through the folder importer, the archive is one file that is not DICOM
    forced = venv.cli("info", str(archive), "--via", "folder", check=False)
    assert forced.returncode == 2
    assert forced.stdout == ""
    assert forced.stderr == (
        f"ownscan info: skipped {archive}: not a DICOM file\n"
        f"ownscan info: error: {archive}: no DICOM image series found\n"
    )
    nobody = venv.cli("info", "dicom+nosuch://pacs/study/1", check=False)
    assert nobody.returncode == 2
    assert f"no importer claims this source (installed importers: {_importer_names(venv)})" in (
        nobody.stderr
    )


def test_via_forces_an_importer(venv: Venv, archive: Path) -> None:
    out = venv.cli("plugins", "--source", str(archive), "--via", "folder").stdout
    assert "importer folder (forced by --via), from plugin folder" in out
    assert "found: 1 application/dicom" in out  # the archive itself, as one file
    failed = venv.cli("plugins", "--source", str(archive.parent), "--via", "tar", check=False)
    assert failed.returncode == 2
    assert failed.stderr.startswith(
        f"ownscan plugins: error: {archive.parent}: not a readable tar archive ("
    )
    assert failed.stderr.count("\n") == 1


def _importer_names(venv: Venv) -> str:
    code = "from ownscan.core import get_host; print(*(i.name for i in get_host().importers()))"
    return ", ".join(_run([venv.python, "-c", code]).stdout.split())


def test_nobody_claims_lists_the_installed_importers(venv: Venv) -> None:
    names = _importer_names(venv)
    order = names.split(", ")
    assert order.index("tar") < order.index("folder")  # priority 10 before the fallback
    failed = venv.cli("plugins", "--source", "dicom+nosuch://pacs/study/1", check=False)
    assert failed.returncode == 2
    assert failed.stderr == (
        "ownscan plugins: error: dicom+nosuch://pacs/study/1: no importer claims this source "
        f"(installed importers: {names}); check the path or URL, or install an importer "
        "plugin for it\n"
    )


def test_broken_plugin_is_listed_and_never_stops_ownscan(
    venv: Venv, wheels: Wheels, archive: Path
) -> None:
    venv.pip("install", str(wheels.broken))
    try:
        listing = venv.cli("plugins")
        assert listing.stdout.splitlines()[-1] == (
            "BROKEN brokenexample  ownscan-broken-example 2.0.1: failed to import: "
            "ModuleNotFoundError: No module named 'ownscan_dependency_that_is_not_installed'"
        )
        assert "tar  ownscan-example-importer" in listing.stdout  # the others still work
        # every command warns once, on stderr, and goes on
        probe = venv.cli("plugins", "--source", str(archive))
        assert "importer tar (claims it)" in probe.stdout
        assert probe.stderr == (
            "ownscan: WARNING: plugin brokenexample (ownscan-broken-example 2.0.1) skipped: "
            "failed to import: ModuleNotFoundError: No module named "
            "'ownscan_dependency_that_is_not_installed'\n"
        )
        assert venv.cli("--version").returncode == 0
        # OWNSCAN_DISABLE_PLUGINS keeps both out, by entry-point or distribution name
        blocked = venv.cli(
            "plugins",
            "--source",
            str(archive),
            OWNSCAN_DISABLE_PLUGINS="ownscan-broken-example, tar",
        )
        assert blocked.stderr == ""
        assert "importer folder (claims it)" in blocked.stdout
        listing = venv.cli("plugins", OWNSCAN_DISABLE_PLUGINS="brokenexample,tar").stdout
        assert "BROKEN" not in listing and "(third-party)" not in listing
        assert "disabled brokenexample  ownscan-broken-example 2.0.1" in listing
        assert f"disabled tar  ownscan-example-importer {EXAMPLE_VERSION}" in listing
    finally:
        venv.pip("uninstall", "-y", "ownscan-broken-example")
    assert "BROKEN" not in venv.cli("plugins").stdout


def test_uninstall_removes_the_plugin(venv: Venv, wheels: Wheels, archive: Path) -> None:
    venv.pip("uninstall", "-y", "ownscan-example-importer")
    try:
        listing = venv.cli("plugins").stdout
        assert "tar" not in listing and "ownscan-example-importer" not in listing
        out = venv.cli("plugins", "--source", str(archive)).stdout
        assert "importer folder (claims it)" in out
        assert venv.cli("info", str(archive), check=False).returncode == 2  # no DICOM: an error
    finally:
        venv.pip("install", "--no-deps", str(wheels.example))
    assert "tar  ownscan-example-importer" in venv.cli("plugins").stdout


def test_editable_install_runs_from_the_source(venv: Venv, wheels: Wheels, tmp_path: Path) -> None:
    """The same environment, switched to an editable install of a copy of the source, and back.

    (A second fresh environment would cost another dependency install; this one already has
    the dependencies, so only ownscan itself is replaced.)
    """
    src = _copy_source(tmp_path / "ownscan")
    venv.pip("install", "--no-deps", "-e", str(src))
    try:
        code = "import ownscan.core, ownscan.shaders; print(ownscan.core.__file__)"
        out = _run([venv.python, "-c", code])
        assert Path(out.stdout.strip()) == src / "core" / "__init__.py"
        assert venv.cli("--version").stdout == f"ownscan {VERSION}\n"
        listing = venv.cli("plugins").stdout
        assert f"folder  ownscan {VERSION}  (built-in)" in listing
        assert "tar  ownscan-example-importer" in listing  # the plugin survives the switch
        # a new command module in the source shows up without reinstalling
        (src / "core" / "commands" / "hello.py").write_text(
            'NAME = "hello"\nHELP = "say hello from the source tree"\n'
            "def add_arguments(parser):\n    pass\n"
            "def run(args):\n    print('hello')\n    return 0\n"
        )
        assert "say hello from the source tree" in venv.cli("--help").stdout
        assert venv.cli("hello").stdout == "hello\n"
    finally:
        venv.pip("install", "--no-deps", "--force-reinstall", str(wheels.ownscan))
    out = _run([venv.python, "-c", "import ownscan.core; print(ownscan.core.__file__)"])
    assert Path(out.stdout.strip()).is_relative_to(venv.root)
