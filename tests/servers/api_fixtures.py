"""pytest fixtures for the API channel tests: stand-ins on 127.0.0.1, credentials, the guard.

Every credential is a canary: a test greps stdout, stderr, logs, ``--json``, the state
database and the issue logs for them (reliability E6).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.servers import loopback
from tests.servers.amazon_api import AmazonStandIn
from tests.servers.google_api import MerchantStandIn
from tests.servers.meta_api import MetaStandIn

SITE = Path(__file__).resolve().parent / "loopback_site"
CLIENT_EMAIL = "feedsync-test@project.iam.gserviceaccount.com"
LWA_CLIENT_ID = "amzn1.application-oa2-client.test0client0id"
LWA_SECRET = "CANARY-lwa-client-secret-5d1f9a"
LWA_REFRESH = "Atzr|CANARY-refresh-token-77c3b2e0"
META_TOKEN = "EAAGCANARYmetaToken9f8e7d6c5b4a"
KEY_ID = "CANARYkeyid0123456789abcdef"


@pytest.fixture()
def loopback_only() -> Iterator[list[str]]:
    """Fail the test if anything tried to reach a host other than loopback."""
    violations: list[str] = []
    remove = loopback.install(violations.append)
    yield violations
    remove()
    assert not violations, f"a request left loopback: {violations}"


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a feedsync subprocess: the loopback guard on PYTHONPATH."""
    path = os.pathsep.join(p for p in (str(SITE), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **(extra or {})}


@dataclass
class ServiceAccount:
    path: Path
    public_key: rsa.RSAPublicKey
    private_pem: str
    email: str = CLIENT_EMAIL

    def canaries(self) -> list[str]:
        body = [line for line in self.private_pem.splitlines() if not line.startswith("-----")]
        return [body[1], body[len(body) // 2], KEY_ID]


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def service_account(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> ServiceAccount:
    pem = rsa_key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "feedsync-test", "private_key_id": KEY_ID,
        "private_key": pem, "client_email": CLIENT_EMAIL, "client_id": "1234567890",
        # Deliberately Google's real endpoint: the config's token_url must win (the guard
        # fails the test otherwise).
        "token_uri": "https://oauth2.googleapis.com/token"}), encoding="utf-8")
    path.chmod(0o600)
    return ServiceAccount(path, rsa_key.public_key(), pem)


@pytest.fixture()
def merchant(service_account: ServiceAccount) -> Iterator[MerchantStandIn]:
    server = MerchantStandIn(service_account.public_key, service_account.email)
    yield server
    server.close()


@pytest.fixture()
def amazon() -> Iterator[AmazonStandIn]:
    server = AmazonStandIn(LWA_CLIENT_ID, LWA_SECRET, LWA_REFRESH)
    yield server
    server.close()


@pytest.fixture()
def meta() -> Iterator[MetaStandIn]:
    server = MetaStandIn(META_TOKEN)
    yield server
    server.close()
