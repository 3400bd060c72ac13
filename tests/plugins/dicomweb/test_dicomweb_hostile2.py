"""DICOMweb servers that misbehave in the ways misbehaving_server.py does not (the second
hostile sweep; the server is tests/plugins/dicomweb/hostile_web_server.py on 127.0.0.1):
WADO-RS answers of the wrong content type, multipart cut short, empty, never closed, with odd
boundaries, parts without headers or with headers that never end, a part that is not DICOM;
QIDO-RS DICOM JSON whose values have the wrong types, counts no one could hold, and a study,
series or instance whose UID is a path.

What holds: ``ownscan import`` and ``info`` end in bounded time and memory with lines naming
the instance and the problem (exit 0, 1 or 2, never a traceback or exit 70); an import that
gets nothing leaves the library's index as it was; one result with a UID that is not a UID is
skipped with a warning, the others imported (before, a series or an instance UID that was
not a UID stopped the whole import, and a study's went unchecked into the next requests'
paths; a value written as a string was read as its first letter)."""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from dicomweb_server import write_ct_series
from hostile_web_server import ESCAPES, INSTANCE_FAULTS, QIDO_FAULTS, hostile_web
from pydicom.uid import generate_uid

EXE = str(Path(sys.executable).with_name("ownscan"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("hostile2") / "ct", 3, study=generate_uid())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))

    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=cap,
    )


def _handled(r: subprocess.CompletedProcess[str]) -> str:
    out = r.stdout + r.stderr
    assert r.returncode in (0, 1, 2), (r.returncode, out[-2000:])
    assert "Traceback" not in out and "internal error" not in out, out[-2000:]
    return out


def _instances(lib: Path) -> int:
    db = lib / "index.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM instances").fetchone()[0])


@pytest.mark.parametrize("fault", INSTANCE_FAULTS)
def test_wado_answers_that_are_not_what_was_asked(
    files: list[Path], fault: str, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    with hostile_web(files, instance=fault) as srv:
        imp = _run("import", "--library", str(lib), srv.url)
        info = _run("info", srv.url)
    out = _handled(imp)
    _handled(info)
    if fault in ("quoted-boundary", "long-boundary", "bare-dicom", "part-without-headers"):
        # answers a lenient reader takes whole: the instance is the file, checked by its UID
        assert imp.returncode == 0 and _instances(lib) == 3, out[-2000:]
        return
    assert imp.returncode == 1, out[-2000:]
    assert _instances(lib) == 0
    # each instance named with why, or the broken connection said once
    assert out.count("not retrieved:") >= 3 or "stopped answering" in out, out[-2000:]
    assert "run the same import again" in out


@pytest.mark.parametrize("level", ["studies", "series", "instances"])
@pytest.mark.parametrize("fault", [f for f in QIDO_FAULTS if f not in ("one-bad-uid", "escapes")])
def test_qido_json_of_the_wrong_shape(
    files: list[Path], fault: str, level: str, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    with hostile_web(files, **{level: fault}) as srv:
        out = _handled(_run("import", "--library", str(lib), srv.url))
        _handled(_run("info", srv.url))
        _handled(_run("search", srv.url))
        asked = [r.path for r in srv.seen]
    # nothing the server wrote as a value went into a request's path but real UIDs
    assert all(p.startswith("/dicom-web/studies") for p in asked), asked
    if fault == "huge-counts":
        assert _instances(lib) == 3, out[-2000:]
    else:
        assert _instances(lib) == 0, out[-2000:]
        assert "WARNING" in out or "error" in out, out[-2000:]


@pytest.mark.parametrize("level", ["studies", "series", "instances"])
def test_one_result_whose_uid_is_a_path_is_skipped_alone(
    files: list[Path], level: str, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    with hostile_web(files, **{level: "one-bad-uid"}) as srv:
        r = _run("import", "--library", str(lib), srv.url)
        asked = [req.path for req in srv.seen]
    out = _handled(r)
    assert _instances(lib) == 3, out[-2000:]  # the good ones, all of them
    assert "1.2/../../../admin?x=1" in out and "not a DICOM UID" in out, out[-2000:]
    assert not any(".." in p or "admin" in p for p in asked), asked


def test_a_value_written_as_a_string_is_no_value() -> None:
    from ownscan.plugins.dicomweb import RemoteStudy

    study = RemoteStudy.from_json(
        {
            "0020000D": {"vr": "UI", "Value": "1.2.3"},
            "00080061": {"vr": "CS", "Value": "CT"},
            "00100020": 7,
        }
    )
    assert study.study_uid == "" and study.modalities == () and study.patient_id is None


@pytest.mark.parametrize("level", ["studies", "series"])
def test_text_from_the_server_cannot_drive_the_terminal(
    files: list[Path], level: str, tmp_path: Path
) -> None:
    """Names, IDs, descriptions and modalities with ESC, OSC, BEL, CR, LF and U+202E, through
    ``search`` (table and JSON), ``import`` and ``info``: shown escaped, never raw."""
    with hostile_web(files, **{level: "escapes"}) as srv:
        runs = [
            _run("search", srv.url),
            _run("search", "--json", srv.url),
            _run("import", "--library", str(tmp_path / "lib"), srv.url),
            _run("info", srv.url),
        ]
    for r in runs:
        out = _handled(r)
        raw = [c for c in out.replace("\n", "") if c in ESCAPES and not c.isprintable()]
        assert not raw, (r.args, out[-1500:])
    if level == "studies":
        assert "owned" in runs[0].stdout  # the text is shown, escaped
