"""Live-looking secrets built at run time for the secret scanner tests (nothing real, nothing committed)."""

from __future__ import annotations

import random
import string

_RNG = random.Random(20261127)
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE64 = string.ascii_letters + string.digits + "+/"


def token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """A random string of ``n`` characters; mixed case and digits when the alphabet has them."""
    while True:
        text = "".join(_RNG.choice(alphabet) for _ in range(n))
        wants = [str.isdigit, str.isupper, str.islower]
        if all(any(test(c) for c in text) for test in wants if any(test(c) for c in alphabet)):
            return text


def ghp() -> str:
    """A fresh GitHub classic PAT."""
    return "ghp_" + token(36)


def akid() -> str:
    """A fresh AWS access key ID."""
    return "AKIA" + token(16, BASE32)
