"""Password hashing with the standard library (PBKDF2-HMAC-SHA256), so it also runs on Workers.

Stored form: ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``. Verification is constant-time
and re-reads the iteration count from the stored hash, so the default can rise later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["DEFAULT_ITERATIONS", "hash_password", "needs_rehash", "verify_password"]

#: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
DEFAULT_ITERATIONS = 600_000
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
_SCHEME = "pbkdf2_sha256"


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"passwords are {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
        salt_bytes, expected_bytes = bytes.fromhex(salt), bytes.fromhex(expected)
    except ValueError:
        return False
    if scheme != _SCHEME or not 1 <= rounds <= 10_000_000 or len(password) > MAX_PASSWORD_CHARS:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt_bytes, rounds)
    return hmac.compare_digest(digest, expected_bytes)


def needs_rehash(stored: str, iterations: int = DEFAULT_ITERATIONS) -> bool:
    parts = stored.split("$")
    return (
        len(parts) != 4
        or parts[0] != _SCHEME
        or not parts[1].isdigit()
        or int(parts[1]) < iterations
    )
