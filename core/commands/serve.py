"""``ownscan serve``: the library and viewer in a browser (this computer, or a phone on the LAN).

The first line on standard output is always ``ownscan serve: open URL`` (the token included),
flushed at once, so that scripts and tests can read it. Ctrl-C (or SIGTERM) stops the server
after the requests in flight; a running import finishes first (a kill instead is covered by
the library's crash safety). Exit status 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ownscan.core.errors import UsageError

NAME = "serve"
HELP = "show your library in a web browser (this computer, or a phone or tablet on your network)"
DESCRIPTION = (
    "Serve the private library to web browsers: browse, upload and view scans on a phone, "
    "tablet or another computer. By default only this computer can connect (127.0.0.1) and "
    "the browser opens. Every request needs the secret token in the printed address; keep it "
    "private. --lan serves your local network and prints a QR code to scan with a phone."
)
ORDER = 60
DEFAULT_PORT = 8642


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ownscan.core.commands._library_args import add_library_argument

    add_library_argument(parser)
    parser.add_argument("--host", metavar="ADDR", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--lan",
        action="store_true",
        help="listen on this computer's local-network address and print a QR code for a phone",
    )
    parser.add_argument("--cert", metavar="FILE", help="TLS certificate (PEM), with --key")
    parser.add_argument("--key", metavar="FILE", help="TLS private key (PEM), with --cert")
    parser.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="serve HTTPS with a self-signed certificate (made once, kept in the library's "
        "private folder); its SHA-256 fingerprint is printed to check in the browser",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="keep the secret token in FILE (made 0600 with a new token if missing), so the "
        "address stays the same across restarts (a home server)",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("gl", "cpu", "auto"),
        help="renderer of server-drawn frames and thumbnails (default auto: GL, else arrays)",
    )


def read_token(path: Path) -> str:
    """The token kept in ``path``; a new one (file 0600) when it does not exist."""
    import secrets

    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = secrets.token_urlsafe(16)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token
    if len(token) < 16 or not token.isascii() or any(c in token for c in " ;,&?#/%\"'"):
        raise UsageError(f"{path}: not a usable token (16 or more URL-safe characters)")
    if os.stat(path).st_mode & 0o077:
        raise UsageError(f"{path}: others may read the token file; chmod 600 {path}")
    return token


def lan_address() -> str:
    """This computer's address on its local network (the interface of the default route)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent by a UDP connect
            addr = str(s.getsockname()[0])
        except OSError as exc:
            raise OSError(f"--lan: no local network found ({exc})") from None
    if addr.startswith("127."):
        raise OSError("--lan: this computer has no local-network address")
    return addr


def _listen(host: str, port: int) -> Any:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({exc.strerror}); try --port 0") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _may_open_browser() -> bool:
    return not (os.environ.get("CI") or os.environ.get("PYTEST_CURRENT_TEST"))


def run(args: argparse.Namespace) -> int:
    import signal

    # Ctrl-C before uvicorn takes the signals (while starting) is a stop as well: noted here,
    # and handed to the server as soon as it exists (uvicorn restores this handler after its
    # own, so a signal between the two still reaches the server)
    stop = _EarlyStop()
    handlers = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _serve(args, stop)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


class _EarlyStop:
    """Signals that arrive while uvicorn does not listen for them."""

    def __init__(self) -> None:
        self.asked = False
        self.server: Any = None

    def handle(self, sig: int, frame: Any) -> None:
        self.asked = True
        if self.server is not None:
            self.server.should_exit = True

    def attach(self, server: Any) -> None:
        self.server = server
        if self.asked:
            server.should_exit = True


def _serve(args: argparse.Namespace, stop: _EarlyStop) -> int:
    import logging
    import secrets

    import uvicorn

    from ownscan.core.library import default_location
    from ownscan.core.serve import Service, Uploads, create_app

    if (args.cert is None) != (args.key is None):
        raise UsageError("give --cert and --key together")
    if args.cert and args.tls_self_signed:
        raise UsageError("give --cert/--key or --tls-self-signed, not both")
    if args.lan and args.host:
        raise UsageError("give --lan or --host, not both")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    host = lan_address() if args.lan else (args.host or "127.0.0.1")
    # an importer may ask for a zip's password on a terminal: never on the server's, where
    # nobody uploading from a phone would see it (the page sends the password instead)
    sys.stdin = open(os.devnull)  # noqa: SIM115 (for the process's life)
    token = read_token(Path(args.token_file)) if args.token_file else secrets.token_urlsafe(16)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ownscan serve: %(message)s"))
    log = logging.getLogger("ownscan.serve")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if args.debug else logging.INFO)
    log.propagate = False
    if not args.debug:
        # everything else that logs (importers, uvicorn, Python warnings) may quote a file
        # name or a value, and those name patients: only where it came from is written
        logging.captureWarnings(True)
        for h in logging.getLogger().handlers:
            h.addFilter(_withhold_details)

    service = Service(Path(args.library) if args.library else default_location(), args.backend)
    sock = _listen(host, args.port)
    port = sock.getsockname()[1]
    fingerprint = None
    cert, key = args.cert, args.key
    if args.tls_self_signed:
        from ownscan.core.library._store import make_private_dir
        from ownscan.core.serve._tls import fingerprint as fingerprint_of
        from ownscan.core.serve._tls import self_signed_certificate

        folder = service.private / "tls"
        make_private_dir(folder)
        if (folder / "cert.pem").is_file() and (folder / "key.pem").is_file():
            cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
            fingerprint = fingerprint_of((folder / "cert.pem").read_bytes())
        else:
            names = [host, "localhost", "127.0.0.1"]
            c, k, fingerprint = self_signed_certificate(folder, names)
            cert, key = str(c), str(k)
    elif cert:
        from ownscan.core.serve._tls import fingerprint as fingerprint_of

        fingerprint = fingerprint_of(Path(cert).read_bytes())
    scheme = "https" if cert else "http"
    shown = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown}:{port}/?token={token}"
    print(f"ownscan serve: open {url}", flush=True)
    if fingerprint:
        print(f"ownscan serve: certificate SHA-256 fingerprint {fingerprint}", flush=True)
    if args.lan:
        import segno

        print(f"ownscan serve: on your network at {shown}:{port}; scan with a phone:")
        segno.make(url, error="l").terminal(out=sys.stdout, compact=True)
        sys.stdout.flush()
    print(f"ownscan serve: library {service.root}; Ctrl-C stops", file=sys.stderr, flush=True)

    uploads = Uploads(service.root, service.private)
    app = create_app(service, token, secure=bool(cert), uploads=uploads)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # its lines hold the address, token included; the door logs instead
        log_level="warning",
        ssl_certfile=cert,
        ssl_keyfile=key,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = _Server(config)
    if not args.no_browser and _may_open_browser():
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    stop.attach(server)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        uploads.close()  # done already when the app shut down; not when it never started
        service.close()
    print("ownscan serve: stopped", file=sys.stderr, flush=True)
    return 0


def _withhold_details(record: Any) -> bool:
    """A logging filter: the record keeps its level and origin, not its text."""
    record.msg = (
        f"{record.levelname.lower()} from {record.name} (details left out of the log because "
        "they may name patients; --debug shows them)"
    )
    record.args = ()
    record.exc_info = record.exc_text = None
    record.stack_info = None
    return True


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """Uvicorn's server, minus re-raising Ctrl-C after a clean shutdown (which would turn
        a normal stop into exit status 130)."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            import signal

            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True

    return Server


def _Server(config: Any) -> Any:  # a class made on first use: uvicorn loads late
    return _server_class()(config)
