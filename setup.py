"""Optional compiled build of the network sensor's hot path (mypyc).

Everything about the package lives in pyproject.toml; this file only adds the compiled modules
when ``HEALTHDLP_NATIVE=1`` is set at build time (``scripts/build-native.sh``, the Dockerfile).
The same Python sources are compiled with mypyc into C extensions: no second implementation, the
test suite runs against both builds (scripts/test.sh). Editable development installs stay pure
Python so an edited ``.py`` file always takes effect.
"""

from __future__ import annotations

import os

from setuptools import setup

#: The per-packet and per-message path of the network sensor (docs/network-sensor.md, "Speed").
NATIVE_MODULES = [
    "sensors/net/capture.py",
    "sensors/net/decode.py",
    "sensors/net/ipfrag.py",
    "sensors/net/reassembly.py",
    "sensors/net/session.py",
    "sensors/net/sensor.py",
    "sensors/net/protocols/base.py",
    "sensors/net/protocols/db.py",
    "sensors/net/protocols/dicom.py",
    "sensors/net/protocols/ftp.py",
    "sensors/net/protocols/hl7.py",
    "sensors/net/protocols/http.py",
    "sensors/net/protocols/lines.py",
    "sensors/net/protocols/mail.py",
    "sensors/net/protocols/mime.py",
    "sensors/net/protocols/mysql.py",
    "sensors/net/protocols/postgres.py",
    "sensors/net/protocols/smtp.py",
    "sensors/net/protocols/tls.py",
]


def _ext_modules() -> list[object]:
    if os.environ.get("HEALTHDLP_NATIVE") != "1":
        return []
    from mypyc.build import mypycify

    return list(mypycify(NATIVE_MODULES, opt_level="3"))


setup(ext_modules=_ext_modules())
