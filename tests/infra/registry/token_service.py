"""A Docker registry token service for the test harness: what GHCR and Docker Hub run in front of
their registries, small enough to read.

Why it exists: the release path must be proven against registries that behave like the real ones.
Those answer `401 WWW-Authenticate: Bearer realm=...,service=...,scope=...`; the client then asks the
realm for a short-lived JWT scoped to one repository and action, sending its credentials (Basic)
only there. This service implements that protocol (Docker's "Token Authentication Specification",
https://distribution.github.io/distribution/spec/auth/token/ and .../auth/jwt/) for one registry:

- GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...][&account=U]
- with valid Basic credentials: a token granting the requested actions (pull, push, delete);
- without credentials: a token granting nothing (like a private GHCR repository: anonymous pulls
  fail at the registry with 401/403); with wrong credentials: 401 and no token;
- tokens are RS256 JWTs with the signing certificate in the `x5c` header, which Distribution
  verifies against its `auth.token.rootcertbundle`.

Its log (one JSON line per request on stdout) names the account that asked and the outcome, never a
password, so tests can assert which credentials reached which registry's token service.

Usage: token_service.py --listen 127.0.0.1:5003 --service NAME --issuer ISS --users FILE
       --signing-key KEY.pem --signing-cert CERT.pem --tls-cert CRT --tls-key KEY
FILE holds "user:password" lines (the test stack generates it, mode 0600).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hmac
import json
import secrets
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

TOKEN_LIFETIME_S = 300
ALLOWED_ACTIONS = frozenset({"pull", "push", "delete"})

LOG_LOCK = threading.Lock()  # one JSON record per line, whatever the request concurrency


class TokenService:
    def __init__(
        self, service: str, issuer: str, users: dict[str, str], key_pem: bytes, cert_pem: bytes
    ) -> None:
        self.service = service
        self.issuer = issuer
        self.users = users
        self.key = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]

    def authenticate(self, header: str | None) -> tuple[str | None, bool]:
        """(account, ok): (None, True) anonymous, (user, True) valid, (user or '?', False) refused."""
        if not header:
            return None, True
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return "?", False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "?", False
        expected = self.users.get(user)
        ok = expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        return user, ok

    def grant(self, scopes: list[str], account: str | None) -> list[dict[str, object]]:
        access: list[dict[str, object]] = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            wanted = [a for a in actions.split(",") if a in ALLOWED_ACTIONS]
            access.append({"type": "repository", "name": name, "actions": wanted if account else []})
        return access

    def token(self, account: str | None, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME_S,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(12),
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self.x5c})  # type: ignore[arg-type]


def make_handler(svc: TokenService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Silence the default access log: it would print the query only, we log JSON below."""

        def _log(self, **fields: object) -> None:
            # One write per record under a lock: print() writes the text and the newline separately,
            # and concurrent requests (ThreadingHTTPServer) interleaved two records on one line.
            line = json.dumps({"time": time.strftime("%H:%M:%S"), **fields}) + "\n"
            with LOG_LOCK:
                sys.stdout.write(line)
                sys.stdout.flush()

        def _reply(self, code: int, body: dict[str, object], extra: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/token":
                self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
                return
            query = parse_qs(url.query)
            scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
            account, ok = svc.authenticate(self.headers.get("Authorization"))
            service = (query.get("service") or [""])[0]
            if service != svc.service:
                self._log(event="wrong-service", service=service, account=account)
                self._reply(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]})
                return
            if not ok:
                self._log(event="denied", account=account, scopes=scopes)
                self._reply(
                    401,
                    {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                    {"WWW-Authenticate": f'Basic realm="{svc.service}"'},
                )
                return
            access = svc.grant(scopes, account)
            self._log(event="token", account=account or "anonymous", scopes=scopes)
            token = svc.token(account, access)
            self._reply(200, {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME_S})

    return Handler


def read_users(path: Path) -> dict[str, str]:
    users: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        user, sep, password = line.partition(":")
        if sep and user:
            users[user] = password
    return users


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--service", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--users", required=True, type=Path)
    parser.add_argument("--signing-key", required=True, type=Path)
    parser.add_argument("--signing-cert", required=True, type=Path)
    parser.add_argument("--tls-cert", required=True, type=Path)
    parser.add_argument("--tls-key", required=True, type=Path)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    svc = TokenService(
        args.service,
        args.issuer,
        read_users(args.users),
        args.signing_key.read_bytes(),
        args.signing_cert.read_bytes(),
    )
    server = ThreadingHTTPServer((host, int(port)), make_handler(svc))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(json.dumps({"event": "listening", "listen": args.listen, "service": args.service}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
