"""Webhook signatures against the Standard Webhooks spec, checked by a verifier written here."""

import base64
import hashlib
import hmac

from gateway.webhooks.signing import headers, new_secret, sign


def verify(secret: str, msg_id: str, timestamp: str, body: bytes, signature: str) -> bool:
    """From the spec: HMAC-SHA256 over `id.timestamp.body`, keyed by the base64 secret after
    `whsec_`; the header holds space-separated `v1,<base64>` signatures."""
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body,
                                         hashlib.sha256).digest()).decode()
    return any(version == "v1" and hmac.compare_digest(sig, expected)
               for version, _, sig in (s.partition(",") for s in signature.split(" ")))


def test_signature_matches_the_spec_example():
    # The example of the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    got = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')

    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_delivery_headers_verify_and_a_changed_body_does_not():
    secret, body = new_secret(), b'{"type": "training.job.succeeded"}'

    h = headers(secret, "msg_1", 1700000000, body)

    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert verify(secret, h["webhook-id"], h["webhook-timestamp"], body, h["webhook-signature"])
    assert not verify(secret, h["webhook-id"], h["webhook-timestamp"], body + b" ",
                      h["webhook-signature"])
    assert not verify(new_secret(), h["webhook-id"], h["webhook-timestamp"], body,
                      h["webhook-signature"])
