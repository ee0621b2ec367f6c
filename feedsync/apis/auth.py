"""Access tokens for the channel APIs, cached until shortly before they expire.

- ``GoogleServiceAccount``: a service-account key file (JSON) -> an RS256-signed JWT ->
  an OAuth 2.0 access token from Google's token endpoint (``grant_type`` jwt-bearer).
  Signed with ``cryptography`` (already a dependency through asyncssh); the whole flow is
  one form POST, so the token request goes through feedsync's own HTTP client (retries,
  deadline, redaction, the tests' loopback stand-in) instead of google-auth's transport.
- ``LwaRefreshToken``: Login with Amazon, ``grant_type=refresh_token`` with the app's
  client id and secret, for the SP-API ``x-amz-access-token`` header.
- ``StaticToken``: a long-lived token from the environment (Meta system-user token); it
  cannot be renewed, so a refusal is final.

Every secret read here (private key, client secret, refresh token, the signed assertion,
every access token) is registered with ``feedsync.secrets`` as soon as it is known, so no
log line, error or report can show it. Tokens are renewed ``REFRESH_MARGIN`` seconds
before ``expires_in`` runs out, and at once when the API refuses one (``invalidate``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from feedsync.apis.http import ApiClient, Reply, shown
from feedsync.errors import ConfigError, PublishFatal, PublishRetryable
from feedsync.secrets import quote_reply, register_secret, register_secrets

Clock = Callable[[], float]

JWT_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URL: Final = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
GOOGLE_SCOPE: Final = "https://www.googleapis.com/auth/content"
LWA_TOKEN_URL: Final = "https://api.amazon.com/auth/o2/token"  # noqa: S105 - a URL
JWT_LIFETIME: Final = 3600      # Google: exp may be at most one hour after iat
REFRESH_MARGIN: Final = 60.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CachedToken:
    """A token fetched on first use, renewed before it expires or when it is refused."""

    header_name = "Authorization"
    header_prefix = "Bearer "

    def __init__(self, http: ApiClient, token_url: str, clock: Clock = time.time) -> None:
        self.http = http
        self.token_url = token_url
        self.clock = clock
        self.fetched = 0
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def headers(self) -> dict[str, str]:
        return {self.header_name: self.header_prefix + self.token()}

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires - REFRESH_MARGIN:
                token, lifetime = self._parse(self._request())
                register_secret(token)
                self._token, self._expires = token, self.clock() + lifetime
                self.fetched += 1
            return self._token

    def invalidate(self, refused: Mapping[str, str]) -> None:
        with self._lock:
            if self._token is not None and refused.get(self.header_name) == (
                    self.header_prefix + self._token):
                self._token = None

    def _request(self) -> Reply:
        raise NotImplementedError

    def _parse(self, reply: Reply) -> tuple[str, float]:
        body = reply.json()
        if not reply.ok:
            error = body.get("error") if isinstance(body, dict) else None
            what = f": {quote_reply(error, 80)}" if isinstance(error, str) else ""
            if reply.status in (400, 401, 403):
                raise PublishFatal(
                    f"credentials rejected by {shown(self.token_url)} (HTTP {reply.status}"
                    f"{what})", tip="check the credentials named in the api: settings")
            raise PublishRetryable(f"HTTP {reply.status} from {shown(self.token_url)} while "
                                   f"fetching an access token: {reply.snippet()}")
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in", 3600) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise PublishRetryable(f"{shown(self.token_url)} answered without an access token")
        return token, float(lifetime)


class GoogleServiceAccount(CachedToken):
    """OAuth 2.0 for a Google service account (developers.google.com/identity, JWT flow)."""

    def __init__(self, key_json: str, http: ApiClient, *, token_url: str | None = None,
                 scope: str = GOOGLE_SCOPE, clock: Clock = time.time,
                 key: str = "api.credentials_file") -> None:
        info = _service_account(key_json, key)
        self.email: str = info["client_email"]
        self.key_id: str = str(info.get("private_key_id") or "")
        self.scope = scope
        try:
            private = serialization.load_pem_private_key(info["private_key"].encode(), None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ConfigError("the service-account key file holds no usable private key",
                              key=key) from None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ConfigError("the service-account private key is not an RSA key", key=key)
        self._private = private
        super().__init__(http, token_url or str(info.get("token_uri") or GOOGLE_TOKEN_URL),
                         clock)

    def assertion(self) -> str:
        """The signed JWT: RS256, iss = the account, aud = the token endpoint, 1 hour."""
        now = int(self.clock())
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
        if self.key_id:
            header["kid"] = self.key_id
        claims = {"iss": self.email, "scope": self.scope, "aud": self.token_url,
                  "iat": now, "exp": now + JWT_LIFETIME}
        signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode())
                                 for part in (header, claims))
        signature = self._private.sign(signing_input.encode("ascii"), padding.PKCS1v15(),
                                       hashes.SHA256())
        jwt = f"{signing_input}.{_b64url(signature)}"
        register_secret(jwt)   # a bearer credential for an hour: never shown
        return jwt

    def _request(self) -> Reply:
        return self.http.request("POST", self.token_url, authenticated=False,
                                 data={"grant_type": JWT_GRANT, "assertion": self.assertion()})


def _service_account(text: str, key: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError("the service-account key file is not JSON", key=key) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError('the key file is not a service-account key ("type": '
                          '"service_account")', key=key,
                          tip="download a JSON key for the service account in Google Cloud")
    for name in ("client_email", "private_key"):
        if not isinstance(info.get(name), str) or not info[name]:
            raise ConfigError(f"the service-account key file has no {name}", key=key)
    # The key, each of its PEM lines (a single line is still secret) and its id.
    register_secrets([info["private_key"], str(info.get("private_key_id") or ""),
                      *(line for line in info["private_key"].splitlines()
                        if len(line) >= 16 and not line.startswith("-----"))])
    return info


class LwaRefreshToken(CachedToken):
    """Login with Amazon: a refresh token -> an SP-API access token (valid one hour)."""

    header_name = "x-amz-access-token"
    header_prefix = ""

    def __init__(self, http: ApiClient, *, client_id: str, client_secret: str,
                 refresh_token: str, token_url: str = LWA_TOKEN_URL,
                 clock: Clock = time.time) -> None:
        super().__init__(http, token_url, clock)
        for secret in (client_secret, refresh_token):
            register_secret(secret)
        self._form = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token,
                                "client_id": client_id, "client_secret": client_secret})

    def _request(self) -> Reply:
        return self.http.request(
            "POST", self.token_url, authenticated=False, data=self._form.encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})


class StaticToken:
    """A token that cannot be renewed (Meta system-user token from the environment)."""

    def __init__(self, token: str, what: str) -> None:
        register_secret(token)
        self._token = token
        self.what = what

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self, refused: Mapping[str, str]) -> None:
        raise PublishFatal(f"the {self.what} was refused (expired or revoked)",
                           tip="create a new token and put it where access_token_env or "
                               "access_token_file points")
