"""Errors raised by numa_hpe.

File operations that the kernel rejects raise plain :class:`OSError` with ``errno`` set to the
kernel's errno (``EINVAL``, ``EBUSY``, ``EACCES`` ...), exactly as a write to sysfs would.
Invalid machine descriptions raise :class:`InvalidDescriptionError`.
"""


class HpeError(Exception):
    """Base class of numa_hpe's own errors."""


class InvalidDescriptionError(HpeError, ValueError):
    """A firmware description or topology string that cannot be booted."""


class StepNotImplementedError(HpeError, NotImplementedError):
    """A replay step kind this emulator does not implement."""
