"""pytest fixtures for the publisher tests: real servers on 127.0.0.1 only.

Loaded from tests/conftest.py with ``pytest_plugins = ["tests.servers.fixtures"]``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.servers.ftp import FtpServer
from tests.servers.http import HttpServer
from tests.servers.sshd import Sshd, missing_sshd, start_sshd

if TYPE_CHECKING:
    from tests.servers.sftp_faults import FaultySftpServer


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real OpenSSH sshd (internal-sftp), one per test worker.

    Skipped, with the reason, where sshd is not installed: only the tests that are about
    SFTP against OpenSSH ask for it. Installed but failing to start is a failure.
    """
    missing = missing_sshd()
    if missing is not None:
        pytest.skip(missing)
    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture()
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are refused, for this test only.

    The socket is bound but never listens, so no other test worker can take the port
    while the test runs (a port that was merely free a moment ago could be taken).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture()
def sftp_dir(sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh directory for one test; the sshd serves it by its absolute path."""
    return Path(tmp_path_factory.mktemp("sftp-target", numbered=True))


@pytest.fixture()
def faulty_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultySftpServer]:
    """An in-process asyncssh SFTP server whose faults the test sets with ``.reset()``."""
    from tests.servers.sftp_faults import FaultySftpServer

    base = tmp_path_factory.mktemp("faulty-sftp")
    root = base / "root"
    (root / "feeds").mkdir(parents=True)
    server = FaultySftpServer(root, base)
    yield server
    server.close()


@pytest.fixture()
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog at DEBUG for every logger, third-party ones (urllib3, asyncssh) included."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "asyncssh", "feedsync", "pyftpdlib"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog



@dataclass
class TlsFiles:
    """A throwaway CA (trustme) and a certificate for 127.0.0.1 and localhost."""

    ca: Any
    ca_file: Path  # the CA certificate to pass as ca_file
    server_pem: Path  # server certificate chain + private key, one file


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    import trustme

    base = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(base / "server.pem"))
    return TlsFiles(ca, base / "ca.pem", base / "server.pem")


@pytest.fixture()
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtpServer]:
    """A pyftpdlib server on 127.0.0.1; its root has a ``feeds/`` directory."""
    root = tmp_path_factory.mktemp("ftp-root")
    (root / "feeds").mkdir()
    server = FtpServer(root)
    yield server
    server.close()


@pytest.fixture()
def ftps_server(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
                ) -> Iterator[FtpServer]:
    """The same with explicit TLS required on control and data connections."""
    root = tmp_path_factory.mktemp("ftps-root")
    (root / "feeds").mkdir()
    server = FtpServer(root, tls_cert=tls_files.server_pem)
    yield server
    server.close()


@pytest.fixture()
def http_server() -> Iterator[HttpServer]:
    """A scriptable plain-HTTP server on 127.0.0.1."""
    server = HttpServer()
    yield server
    server.close()


@pytest.fixture()
def other_http_server() -> Iterator[HttpServer]:
    """A second server, addressed as ``localhost`` (another host for redirect tests)."""
    server = HttpServer()
    yield server
    server.close()


@pytest.fixture()
def https_server(tls_files: TlsFiles) -> Iterator[HttpServer]:
    """The same over TLS with a trustme certificate for 127.0.0.1 and localhost."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_files.server_pem))
    server = HttpServer(tls=context)
    yield server
    server.close()
