"""SSH host key verification for the SFTP publisher: known_hosts, opt-in trust on first use.

The server's key is checked against a known_hosts file (default ``~/.ssh/known_hosts``)
during key exchange, before any authentication. An unknown or changed key is refused with
``SecurityRefusal`` naming the host and the key's SHA-256 fingerprint, and the file is left
as it was. With ``trust_on_first_use: true`` a host that has *no* entry is accepted and
its key appended; a host whose key *changed* is still refused (like rclone's pin_host_key).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from feedsync.errors import ConfigError
from feedsync.secrets import redact


def host_pattern(host: str, port: int) -> str:
    """The known_hosts host field: ``host`` on port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def load_known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    """Parse ``path``; a missing file is an empty list (every host is unknown)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(redact(f"cannot read known_hosts {path}: {exc}"),
                          key="known_hosts") from None
    try:
        return asyncssh.import_known_hosts(text)
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise ConfigError(redact(f"bad known_hosts file {path}: {exc}"),
                          key="known_hosts") from None


def describe_key(key: asyncssh.SSHKey) -> str:
    """``ssh-ed25519 SHA256:…``: what ``ssh-keygen -lf`` prints, for messages."""
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


@dataclass
class HostKeyPolicy:
    """Decides on a server key that is not in known_hosts; remembers what it saw."""

    host: str
    port: int
    known_hosts_path: Path
    known_hosts: asyncssh.SSHKnownHosts
    trust_on_first_use: bool
    offered: asyncssh.SSHKey | None = None
    known: list[asyncssh.SSHKey] = field(default_factory=list)
    accepted_new: bool = False

    def decide(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Called by asyncssh for a key not trusted by known_hosts. True accepts it."""
        self.offered = key
        match_port = None if port == 22 else port
        self.known = list(self.known_hosts.match(host, addr, match_port)[0])
        if self.trust_on_first_use and not self.known:
            self.accepted_new = True
            return True
        return False

    def refusal_message(self) -> str:
        where = host_pattern(self.host, self.port)
        offered = describe_key(self.offered) if self.offered else "an unreadable key"
        if self.known:
            was = ", ".join(describe_key(k) for k in self.known)
            return (
                f"host key for {where} CHANGED: server offered {offered}, "
                f"known_hosts {self.known_hosts_path} has {was}; refusing to connect"
            )
        return (
            f"host key for {where} is not in known_hosts {self.known_hosts_path}: "
            f"server offered {offered}; refusing to connect"
        )

    def tip(self) -> str:
        if self.known:
            return (
                "if the server's key was really replaced, check the new fingerprint with its "
                "administrator, then remove the old line from known_hosts"
            )
        return (
            f"check the fingerprint with the server's administrator, then add the key: "
            f"ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts_path} "
            "(or set trust_on_first_use: true to accept an unknown host once)"
        )

    def save_accepted(self) -> None:
        """Append the key accepted on first use to the known_hosts file."""
        if not (self.accepted_new and self.offered):
            return
        public = self.offered.export_public_key("openssh").decode().split()
        line = f"{host_pattern(self.host, self.port)} {public[0]} {public[1]}\n"
        self.known_hosts_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.known_hosts_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            if out.tell() > 0 and not self.known_hosts_path.read_bytes().endswith(b"\n"):
                out.write("\n")
            out.write(line)


class PolicyClient(asyncssh.SSHClient):
    """asyncssh client callbacks that delegate host key decisions to a ``HostKeyPolicy``."""

    def __init__(self, policy: HostKeyPolicy) -> None:
        self.policy = policy

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self.policy.decide(host, addr, port, key)
