"""AWS wire pieces for fakes: the event-stream encoder, a server-side SigV4 check, STS answers.

- :func:`encode_message` writes one ``application/vnd.amazon.eventstream`` frame
  (prelude, headers, payload, CRC32s); ``botocore.eventstream`` decodes it
  (the test suite checks both directions).
- :func:`verify_sigv4` recomputes a request's SigV4 signature with
  ``botocore.auth.SigV4Auth`` from what the server received and compares.
- :func:`sts_credentials_xml` is an STS ``AssumeRole`` / ``AssumeRoleWithWebIdentity`` answer.

Needs botocore (the ``test`` and ``bedrock`` extras).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["encode_message", "event", "exception", "Key", "SigV4Failure", "verify_sigv4", "sts_credentials_xml"]

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                   r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?Signature=(?P<sig>[0-9a-f]+)")


def _crc(data: bytes, start: int = 0) -> int:
    return binascii.crc32(data, start) & 0xFFFFFFFF


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream frame with string headers."""
    raw = b"".join(struct.pack(">B", len(n.encode())) + n.encode() + b"\x07" + struct.pack(">H", len(v.encode()))
                   + v.encode() for n, v in headers.items())
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    head = prelude + struct.pack(">I", _crc(prelude)) + raw + payload
    return head + struct.pack(">I", _crc(head))


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """A ConverseStream event frame (``:message-type: event``), JSON payload."""
    return encode_message({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                          orjson.dumps(payload))


def exception(exception_type: str, message: str) -> bytes:
    """A ConverseStream exception frame (``throttlingException``, ...)."""
    return encode_message({":exception-type": exception_type, ":content-type": "application/json",
                           ":message-type": "exception"}, orjson.dumps({"message": message}))


@dataclass(frozen=True)
class Key:
    """Credentials the fake accepts: the secret, the session token it requires, its expiry (epoch)."""

    secret: str
    token: str | None = None
    expires: float | None = None


class SigV4Failure(Exception):
    """The signature does not check out: ``code`` is the AWS error name (and the status to answer)."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def verify_sigv4(method: str, url: str, headers: Mapping[str, str], body: bytes, *, service: str, regions: Collection[str],
                 lookup: Callable[[str], Key | None], now: float) -> str:
    """Recompute the signature of a received request; return the access key id, or raise :class:`SigV4Failure`.

    ``url`` is ``http://<Host header><raw path and query>`` as received; ``headers``
    is case-insensitive.
    """
    found = _AUTH.fullmatch(headers.get("Authorization", "").strip())
    if found is None:
        raise SigV4Failure("MissingAuthenticationTokenException", "Missing Authentication Token")
    region = found["region"]
    if found["service"] != service or region not in regions:
        raise SigV4Failure("InvalidSignatureException",
                           f"Credential should be scoped to a valid region ({', '.join(sorted(regions))}) "
                           f"and service '{service}'")
    key = lookup(found["akid"])
    if key is None:
        raise SigV4Failure("UnrecognizedClientException", "The security token included in the request is invalid.")
    if key.token != headers.get("X-Amz-Security-Token"):
        raise SigV4Failure("UnrecognizedClientException", "The security token included in the request is invalid.")
    if key.expires is not None and now >= key.expires:
        raise SigV4Failure("ExpiredTokenException", "The security token included in the request is expired")
    signed = found["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise SigV4Failure("InvalidSignatureException", "host and x-amz-date must be signed")
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise SigV4Failure("InvalidSignatureException", "X-Amz-Content-SHA256 does not match the body")
    request = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed})
    request.context["timestamp"] = headers.get("X-Amz-Date", "")
    auth = SigV4Auth(Credentials(found["akid"], key.secret, key.token), service, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if not hmac.compare_digest(expected, found["sig"]):
        raise SigV4Failure("InvalidSignatureException",
                           "The request signature we calculated does not match the signature you provided.")
    return found["akid"]


def sts_credentials_xml(action: str, akid: str, secret: str, token: str, expiration: str, role_arn: str) -> bytes:
    """An STS answer carrying temporary credentials (``expiration``: ISO 8601, UTC)."""
    ns = "https://sts.amazonaws.com/doc/2011-06-15/"
    return (f'<{action}Response xmlns="{ns}"><{action}Result><Credentials>'
            f"<AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
            f"<SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>AROAFAKE:{akid}</AssumedRoleId><Arn>{role_arn}</Arn></AssumedRoleUser>"
            f"</{action}Result><ResponseMetadata><RequestId>fake-{akid}</RequestId></ResponseMetadata>"
            f"</{action}Response>").encode()
