"""TOTP codes, recovery codes and the QR code for enrolment (no I/O here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER = "TinyCRM"
STEP_SECONDS = 30
RECOVERY_CODES = 10
# No look-alikes (0/o, 1/l/i): 31 symbols x 16 = ~79 bits, enough for a fast hash.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
SEAL_VERSION = "v1:"
SEAL_CONTEXT = b"tinycrm.users.totp_secret"


def new_secret() -> str:
    return pyotp.random_base32()


def _sealing_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tinycrm.totp-secret.v1").derive(
        secret_key.encode()
    )


def seal(secret_key: str, totp_secret: str) -> str:
    """The TOTP secret encrypted (AES-GCM, key derived from SECRET_KEY) for storage: a leaked
    database alone does not yield working codes."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_sealing_key(secret_key)).encrypt(nonce, totp_secret.encode(), SEAL_CONTEXT)
    return SEAL_VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret_key: str, stored: str | None) -> str | None:
    """The TOTP secret, or None if there is none or it cannot be opened (SECRET_KEY changed:
    recovery codes, stored as hashes, still work then)."""
    if not stored or not stored.startswith(SEAL_VERSION):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(SEAL_VERSION) :])
        return AESGCM(_sealing_key(secret_key)).decrypt(raw[:12], raw[12:], SEAL_CONTEXT).decode()
    except (InvalidTag, ValueError):
        return None


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """An SVG QR code of `uri` as a data: URI an <img> can show (allowed by the CSP's img-src data:)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def looks_like_totp(code: str) -> bool:
    return len(code) == 6 and code.isdigit()


def normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def matching_step(secret: str | None, code: str, now: float | None = None) -> int | None:
    """The time step (current, previous or next: clock drift) whose code this is, else None."""
    code = normalise(code)
    if secret is None or not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> bytes:
    return hashlib.sha256(normalise(code).encode()).digest()
