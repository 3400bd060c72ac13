"""Retrieving a 300-image series over DICOMweb: ownscan's importer vs curl, in one run.

A real Orthanc (with its DICOMweb plugin) on loopback holds a generated CT series (300 slices,
512x512 int16 by default). Measured in ``--repeat`` interleaved rounds, best of each:

* ``ownscan``: ``DicomwebImporter.iter_items`` end to end (QIDO-RS for studies, series and
  the instance list, then WADO-RS of every instance with ``--parallel`` requests at a time,
  each answer split out of its multipart body and checked to be the instance asked for);
* ``curl``: the same QIDO-RS instance query, then one ``curl -Z --parallel-max N`` process
  fetching the same WADO-RS URLs with the same ``Accept`` header (keep-alive, N at a time):
  the plain HTTP download of the same responses;
* the WADO-RS part alone on both sides (ownscan's retrieve for the same URL list).

Run: ``python benchmarks/bench_dicomweb.py [--slices 300] [--size 512] [--parallel 4]``.
Needs the Debian packages orthanc, orthanc-dicomweb and curl.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The test helpers own the Orthanc recipe (config, start, stop by pid, upload).
sys.path.insert(0, str(REPO / "tests" / "plugins" / "dicomweb"))

from dicomweb_server import PASSWORD, USER, Orthanc, write_ct_series  # noqa: E402

from ownscan.core.plugin_types import ImportOptions  # noqa: E402
from ownscan.plugins._dicomweb import ACCEPT_DICOM_ANY_SYNTAX  # noqa: E402
from ownscan.plugins.dicomweb import DicomwebImporter, connect  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        sys.exit("curl is not installed")

    with tempfile.TemporaryDirectory(prefix="bench_dicomweb_") as tmp:
        work = Path(tmp)
        from pydicom.uid import generate_uid

        study = generate_uid()
        t = time.perf_counter()
        files = write_ct_series(work / "ct", args.slices, study=study, size=args.size)
        total_bytes = sum(f.stat().st_size for f in files)
        print(f"generated {len(files)} files, {total_bytes / 1e6:.1f} MB "
              f"({time.perf_counter() - t:.1f} s)")  # fmt: skip
        server = Orthanc(work / "orthanc")
        server.start()
        try:
            t = time.perf_counter()
            server.upload(files)
            print(f"uploaded to Orthanc on {server.root} ({time.perf_counter() - t:.1f} s)")
            os.environ["OWNSCAN_DICOMWEB_USER"] = USER
            os.environ["OWNSCAN_DICOMWEB_PASSWORD"] = PASSWORD
            rows = run(server, study, args, curl, work, total_bytes)
        finally:
            server.stop()

    print()
    print(f"{'what':<46} {'seconds':>8} {'MB/s':>7} {'vs curl':>8}")
    for name, secs, ref in rows:
        ratio = f"{secs / ref:.2f}x" if ref else ""
        rate = "-" if "QIDO-RS instance list" in name else f"{total_bytes / secs / 1e6:.1f}"
        print(f"{name:<46} {secs:8.3f} {rate:>7} {ratio:>8}")
    return 0


def run(server: Orthanc, study: str, args, curl: str, work: Path, total_bytes: int):
    importer = DicomwebImporter()
    opts = ImportOptions(extra={"parallel": args.parallel, "study": study})

    def ownscan_all() -> int:
        n = 0
        for item in importer.iter_items(server.url, opts):
            assert item.data is not None
            n += len(item.data)
        return n

    conn = connect(server.url)
    series = conn.qido(f"studies/{study}/series")[0]["0020000E"]["Value"][0]
    qido_path = f"studies/{study}/series/{series}/instances"

    def ownscan_qido() -> list[str]:
        return [d["00080018"]["Value"][0] for d in conn.qido(qido_path)]

    sops = ownscan_qido()
    urls = [conn.instance_url(study, series, s) for s in sops]

    def ownscan_wado() -> int:
        with ThreadPoolExecutor(args.parallel) as pool:
            parts = pool.map(lambda s: len(conn.retrieve_instance(study, series, s)), sops)
            return sum(parts)

    out = work / "curl_out"
    out.mkdir()
    cfg = work / "curl.cfg"
    cfg.write_text("".join(f'url = "{u}"\noutput = "{out}/{i}"\n' for i, u in enumerate(urls)))
    auth = f"{USER}:{PASSWORD}"

    def curl_wado() -> int:
        subprocess.run(
            [curl, "-s", "--no-progress-meter", "-f", "-Z", "--parallel-max", str(args.parallel),
             "-u", auth, "-H", f"Accept: {ACCEPT_DICOM_ANY_SYNTAX}", "-K", str(cfg)],
            check=True,
        )  # fmt: skip
        return sum(p.stat().st_size for p in out.iterdir())

    def curl_qido() -> int:
        r = subprocess.run(
            [curl, "-s", "-f", "-u", auth, f"{server.url}/{qido_path}?limit=1000"],
            check=True,
            capture_output=True,
        )
        return len(r.stdout)

    ownscan_all()  # warm the server's caches the same way for everyone
    # interleaved rounds (the machine is shared: load changes over time), best of each
    fns = [ownscan_all, ownscan_qido, ownscan_wado, curl_qido, curl_wado]
    times: list[list[float]] = [[] for _ in fns]
    results: list[object] = [None] * len(fns)
    for _ in range(args.repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - t)
    t_all, t_oq, t_ow, t_cq, t_cw = (min(t) for t in times)
    n_all, _, n_ow, _, n_cw = results
    conn.close()
    assert n_all == n_ow == total_bytes, (n_all, n_ow, total_bytes)
    assert n_cw > total_bytes  # the multipart framing around the same files
    p = args.parallel
    return [
        (f"curl QIDO + curl -Z WADO-RS ({p} parallel)", t_cq + t_cw, t_cq + t_cw),
        (f"ownscan importer, QIDO + WADO-RS ({p} parallel)", t_all, t_cq + t_cw),
        (f"curl -Z WADO-RS only ({p} parallel)", t_cw, t_cw),
        (f"ownscan WADO-RS only ({p} parallel)", t_ow, t_cw),
        ("curl QIDO-RS instance list", t_cq, t_cq),
        ("ownscan QIDO-RS instance list", t_oq, t_cq),
    ]


if __name__ == "__main__":
    sys.exit(main())
