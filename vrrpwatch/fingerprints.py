"""Keeping the passwords seen on the wire out of plain sight.

VRRPv2 simple-text authentication (RFC 3768 section 5.3.6.1) puts a password on the wire in
clear. vrrpwatch shows that one is present and a short keyed fingerprint instead: equal
passwords have equal fingerprints under one key, so a mismatch between routers stays visible,
while the fingerprint alone does not give the password away to a dictionary attack without the
key. The key is random per process unless ``VRRPWATCH_FINGERPRINT_KEY`` is set; analyze and
sniff keep a database's key in a 0600 file beside it (``DB.key``, store/keys.py), never in the
database, so fingerprints stay comparable across its runs and a copied database gives nothing
away.
"""

from __future__ import annotations

import hashlib
import hmac
import os

ENV_KEY = "VRRPWATCH_FINGERPRINT_KEY"
_PROCESS_KEY = os.urandom(32)


def session_key() -> bytes:
    """``VRRPWATCH_FINGERPRINT_KEY`` (as UTF-8) if set, else a random key for this process."""
    env = os.environ.get(ENV_KEY)
    if env:
        return env.encode()
    return _PROCESS_KEY


def fingerprint(secret: bytes, key: bytes) -> str:
    """A short keyed fingerprint of ``secret``: ``hmac:`` and 8 hex digits of HMAC-SHA256."""
    return "hmac:" + hmac.new(key, secret, hashlib.sha256).hexdigest()[:8]


__all__ = ["ENV_KEY", "fingerprint", "session_key"]
