"""The error hierarchy.

Every error a user can cause carries a one-line diagnosis; the CLI maps
``InputError`` (bad target, corrupt or hostile input) to exit code 2 and
everything unexpected to exit code 3.
"""

from __future__ import annotations


class ShieldwallError(Exception):
    """Base of every error Shieldwall raises on purpose."""


class InputError(ShieldwallError):
    """The user's input (target, file, flag) cannot be used; exit code 2."""


class UnsafeInputError(InputError):
    """Input that tries to escape its sandbox or exhaust resources."""


class CorruptInputError(InputError):
    """Input that is malformed: a broken tar, manifest, digest mismatch..."""


class RegistryError(InputError):
    """A registry refused or failed a request."""


class ConfigError(InputError):
    """Configuration that cannot be used."""


class FileTooLargeError(ShieldwallError):
    """One file is above the per-file read limit; it is skipped with a warning."""
