"""``ownscan serve``: the library and viewer in a browser, behind a token door.

Starlette routes (:mod:`._app`) over a service (:mod:`._service`) that lists the library,
loads volumes and sends them compressed (:mod:`._encode`), draws frames and thumbnails with
the renderer on one thread, and stages and imports uploads (:mod:`._uploads`). The door
(:mod:`._door`) lets in only the holder of the server's token. See docs/SERVE.md.
"""

from ownscan.core.serve._app import create_app, static_dir
from ownscan.core.serve._door import COOKIE, STATE_HEADER, Door
from ownscan.core.serve._encode import downsample2, encoded_chunks, encoding_of, level_affine
from ownscan.core.serve._service import Service, ServiceError, format_date, format_name
from ownscan.core.serve._tls import self_signed_certificate
from ownscan.core.serve._uploads import Uploads

__all__ = [
    "COOKIE",
    "STATE_HEADER",
    "Door",
    "Service",
    "ServiceError",
    "Uploads",
    "create_app",
    "downsample2",
    "encoded_chunks",
    "encoding_of",
    "format_date",
    "format_name",
    "level_affine",
    "self_signed_certificate",
    "static_dir",
]
