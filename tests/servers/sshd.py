"""A real OpenSSH sshd on 127.0.0.1 with throwaway keys (internal-sftp, key auth only)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.servers.loop import free_port

# Debian's path; FEEDSYNC_SSHD names another (or a missing one, to see the SFTP tests skip).
SSHD = os.environ.get("FEEDSYNC_SSHD", "/usr/sbin/sshd")
USER_KEY_PASSPHRASE = "ssh-key-passphrase-CANARY-7f3a"


def keygen(path: Path, passphrase: str = "") -> str:
    """Generate an ed25519 key pair at ``path``; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "feedsync-test",
         "-f", str(path)],
        check=True, capture_output=True, timeout=30,
    )
    return Path(f"{path}.pub").read_text().strip()


@dataclass
class Sshd:
    port: int
    user: str
    root: Path  # a temp dir on the real filesystem, reachable through SFTP by its path
    host_pub: str
    known_hosts: Path
    user_key: Path
    encrypted_user_key: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, path: Path | str, port: int | None = None) -> str:
        return f"sftp://{self.user}@127.0.0.1:{port or self.port}{path}"

    def known_hosts_line(self, port: int | None = None) -> str:
        algo, blob = self.host_pub.split()[:2]
        return f"[127.0.0.1]:{port or self.port} {algo} {blob}\n"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _config(base: Path, port: int) -> str:
    return "\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {base / 'ssh_host_ed25519_key'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        f"PidFile {base / 'sshd.pid'}",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "",
    ])


def _wait_for_banner(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not answer on port {port}:\n{log.read_text()}")


def missing_sshd() -> str | None:
    """Why a real sshd cannot be started here, or None when it can."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        return (f"OpenSSH's sshd ({SSHD}) or ssh-keygen is not installed: the tests against "
                "a real sshd are skipped (apt-get install -y openssh-server openssh-client; "
                ".ci/run installs them)")
    return None


def start_sshd(base: Path, attempts: int = 5) -> Sshd:
    """Start sshd in ``base`` on a free port (``missing_sshd()`` must be None).

    sshd cannot listen on port 0 and say which port it got, so a port is picked and sshd
    is retried on another one if a parallel test worker took it first.
    """
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
    host_pub = keygen(base / "ssh_host_ed25519_key")
    user_pub = keygen(base / "user_key")
    enc_pub = keygen(base / "user_key_encrypted", USER_KEY_PASSPHRASE)
    (base / "authorized_keys").write_text(f"{user_pub}\n{enc_pub}\n")
    log = base / "sshd.log"
    for attempt in range(attempts):
        port = free_port()
        (base / "sshd_config").write_text(_config(base, port))
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(base / "sshd_config")],
            stdout=subprocess.DEVNULL, stderr=log.open("wb"),
        )
        try:
            _wait_for_banner(proc, port, log)
            break
        except RuntimeError:
            proc.kill()
            proc.wait(10)
            if attempt == attempts - 1:
                raise
    root = base / "root"
    root.mkdir()
    server = Sshd(port, getpass.getuser(), root, host_pub, base / "known_hosts",
                  base / "user_key", base / "user_key_encrypted", proc, log)
    server.known_hosts.write_text(server.known_hosts_line())
    return server
