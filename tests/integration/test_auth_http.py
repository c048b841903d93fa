"""Who may speak MCP over HTTP (issue 14): bearer tokens.

--http-tokens: static tokens, kept as SHA-256 hashes, compared in constant
time. --oauth-issuer/--oauth-jwks: OAuth 2.1 resource-server mode per the
MCP authorization specification: JWT access tokens checked for signature
(keys from a JWKS file, chosen by kid, only the algorithm each key is
for), issuer, audience, expiry and scopes; Protected Resource Metadata
(RFC 9728) at /.well-known/oauth-protected-resource; 401 with
WWW-Authenticate naming it. A session belongs to the token's principal:
another principal naming it gets 404. SIGHUP reads the files again.
"""

import hashlib
import json
import os
import signal
import time
import unittest

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from httptest import Http
from mcpztest import ServerTestCase, free_port, run_mcpzd, text_of

ISSUER = "https://issuer.example"


def token_line(name, token):
    return "%s %s\n" % (name, hashlib.sha256(token.encode()).hexdigest())


class Keys:
    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self, *pairs):
        keys = []
        for kid, key in pairs:
            algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) \
                else jwt.algorithms.ECAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk["kid"] = kid
            keys.append(jwk)
        return json.dumps({"keys": keys})


class OAuth(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.keys = Keys()

    def setUp(self):
        self.port = free_port()
        self.resource = "http://127.0.0.1:%d/mcp" % self.port
        self.server = self.start_server("--http", self.port, "--http-tokens", "{tmp}/tokens",
                                        "--oauth-issuer", ISSUER, "--oauth-jwks", "{tmp}/jwks",
                                        "--oauth-scopes", "mcp", start=False)
        self.write("tokens", token_line("ci", "static-secret") + token_line("ops", "other-secret"))
        self.write("jwks", self.keys.jwks(("r1", self.keys.rsa), ("e1", self.keys.ec)))
        self.server.start()

    def write(self, name, text):
        with open(os.path.join(self.server.tmp, name), "w") as f:
            f.write(text)

    def mint(self, key=None, kid="r1", algorithm="RS256", **claims):
        now = int(time.time())
        body = {"iss": ISSUER, "aud": self.resource, "sub": "alice", "exp": now + 300,
                "iat": now, "scope": "mcp read"}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.keys.rsa, algorithm=algorithm, headers={"kid": kid})

    def http(self, bearer=None):
        web = Http(self.port)
        web.bearer = bearer
        self.addCleanup(web.close)
        return web

    def assertRefused(self, answer, status=401, error=None):
        self.assertEqual(answer.status, status, answer)
        challenge = answer.header("WWW-Authenticate") or ""
        self.assertTrue(challenge.startswith("Bearer "), challenge)
        self.assertIn('resource_metadata="http://127.0.0.1:%d/.well-known/oauth-protected-resource/mcp"'
                      % self.port, challenge)
        if error:
            self.assertIn('error="%s"' % error, challenge)

    def test_no_token_gets_401_naming_the_metadata(self):
        web = self.http()
        self.assertRefused(web.request("initialize", {}))
        self.assertRefused(web.send("GET", headers=web.headers(accept="text/event-stream")))
        self.assertRefused(web.send("DELETE"))
        self.assertRefused(self.http("wrong").request("ping"), error="invalid_token")
        self.assertEqual(web.send("POST", path="/mcp?access_token=static-secret",
                                  body={"jsonrpc": "2.0", "id": 1, "method": "ping"}).status, 400)

    def test_protected_resource_metadata(self):
        for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
            answer = self.http().send("GET", path=path, headers={})
            self.assertEqual(answer.status, 200, answer)
            self.assertEqual(answer.json, {"resource": self.resource, "authorization_servers": [ISSUER],
                                           "bearer_methods_supported": ["header"],
                                           "scopes_supported": ["mcp"]})

    def test_a_static_token_works_end_to_end(self):
        web = self.http("static-secret")
        web.open()
        self.assertEqual(text_of(web.tool("echo", {"text": "s"}).json["result"]), "s")
        listen = self.http("static-secret")
        listen.sid = web.sid
        answer, response = listen.send("GET", headers=listen.headers(accept="text/event-stream"),
                                       stream_events=1)
        self.assertEqual(answer.status, 200)
        response.close()
        self.assertEqual(web.send("DELETE").status, 200)

    def test_jwts_of_each_kind_of_key(self):
        for key, kid, algorithm in ((self.keys.rsa, "r1", "RS256"), (self.keys.ec, "e1", "ES256")):
            with self.subTest(algorithm=algorithm):
                web = self.http(self.mint(key, kid, algorithm))
                web.open()
                self.assertEqual(text_of(web.tool("echo", {"text": algorithm}).json["result"]), algorithm)

    def test_an_ec_key_whose_coordinate_lost_its_leading_zero(self):
        """Some JWKS writers (PyJWT here) drop a coordinate's leading zero
        bytes; such a key still verifies."""
        while True:
            key = ec.generate_private_key(ec.SECP256R1())
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            if len(jwk["x"]) < 43 or len(jwk["y"]) < 43:
                break
        self.write("jwks", self.keys.jwks(("short", key)))
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "HTTP credentials read again" not in self.server.stderr_text():
            self.assertLess(time.monotonic(), deadline, self.server.stderr_tail())
            time.sleep(0.05)
        self.http(self.mint(key, "short", "ES256")).open()

    def test_bad_jwts_are_refused(self):
        public_pem = self.keys.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        bad = {
            "expired": self.mint(exp=int(time.time()) - 3600),
            "not yet": self.mint(nbf=int(time.time()) + 3600),
            "issuer": self.mint(iss="https://evil.example"),
            "audience": self.mint(aud="http://elsewhere/mcp"),
            "no audience": self.mint(aud=None),
            "no subject": self.mint(sub=None),
            "signature": self.mint(self.keys.other),
            "unknown kid": self.mint(kid="zz"),
            "alg none": jwt.encode({"iss": ISSUER, "aud": self.resource, "sub": "x",
                                    "exp": int(time.time()) + 60}, None, algorithm="none",
                                   headers={"kid": "r1"}),
            "hmac keyed with the public key": self.hs256(public_pem),
            "rsa key, ec alg": self.mint(self.keys.ec, "r1", "ES256"),
            "garbage": "a.b.c",
        }
        for name, token in bad.items():
            with self.subTest(name=name):
                self.assertRefused(self.http(token).request("ping"), error="invalid_token")
        self.assertRefused(self.http(self.mint(scope="read")).request("ping"), 403, "insufficient_scope")

    def hs256(self, secret):
        import base64
        import hmac
        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=")
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "r1"}).encode())
        claims = b64(json.dumps({"iss": ISSUER, "aud": self.resource, "sub": "mallory",
                                 "exp": int(time.time()) + 60, "scope": "mcp"}).encode())
        signature = b64(hmac.new(secret, header + b"." + claims, hashlib.sha256).digest())
        return (header + b"." + claims + b"." + signature).decode()

    def test_a_session_belongs_to_its_principal(self):
        alice = self.http(self.mint(sub="alice"))
        sid = alice.open()
        for other in (self.mint(sub="bob"), "static-secret"):
            web = self.http(other)
            web.sid = sid
            self.assertEqual(web.request("ping").status, 404)
            self.assertEqual(web.send("DELETE").status, 404)
        #  The same subject with a fresh token is the same principal
        again = self.http(self.mint(sub="alice", iat=int(time.time()) - 5))
        again.sid = sid
        self.assertEqual(again.request("ping").status, 200)

    def test_sighup_reads_tokens_and_keys_again(self):
        self.assertEqual(self.http("static-secret").request("initialize", {}).status != 401, True)
        self.write("tokens", token_line("new", "fresh-secret"))
        self.write("jwks", self.keys.jwks(("o1", self.keys.other)))
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "HTTP credentials read again" not in self.server.stderr_text():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertRefused(self.http("static-secret").request("ping"), error="invalid_token")
        self.assertRefused(self.http(self.mint()).request("ping"), error="invalid_token")
        self.http("fresh-secret").open()
        self.http(self.mint(self.keys.other, "o1")).open()
        #  A broken file keeps what was read before
        self.write("jwks", "{not json")
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "stay as they were" not in self.server.stderr_text():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.http(self.mint(self.keys.other, "o1")).open()


class OffLoopback(ServerTestCase):

    def test_http_off_loopback_needs_authentication(self):
        port = free_port()
        status, _, err = run_mcpzd(["--store", "none", "--listen", "ipc:///tmp/mcpz-offl-%d" % port,
                                    "--http", "0.0.0.0:%d" % port], timeout=10)
        self.assertEqual(status, 2, err)
        self.assertIn("--allow-unauthenticated", err)
        server = self.start_server("--http", "0.0.0.0:%d" % port, "--allow-unauthenticated")
        web = Http(port)
        self.addCleanup(web.close)
        web.open()


if __name__ == "__main__":
    unittest.main()
