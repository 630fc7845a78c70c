"""Defaults and checks that every cache adapter shares, so the backends behave alike."""

from __future__ import annotations

import math

DEFAULT_KEY_PREFIX = "order:"
DEFAULT_TIMEOUT = 0.5
# memcached's default item size limit (-I) is 1 MiB for header, key and value together; a
# value of 1,000,000 bytes leaves room for the rest. The other backends use the same limit.
DEFAULT_MAX_VALUE_BYTES = 1_000_000


def check_ttl(ttl: float | None) -> None:
    """Refuse a ttl no backend can honour (zero, negative, NaN, infinite)."""
    if ttl is not None and not 0 < ttl < math.inf:
        raise ValueError(f"ttl must be a positive, finite number of seconds or None, not {ttl!r}")


class SharedCacheOptions:
    """The options every shared-cache adapter takes, checked and kept alike."""

    key_prefix: str
    default_ttl: float | None
    max_value_bytes: int

    def _keep_options(
        self, key_prefix: str, default_ttl: float | None, max_value_bytes: int
    ) -> None:
        if max_value_bytes < 1:
            raise ValueError("max_value_bytes must be positive")
        check_ttl(default_ttl)
        self.key_prefix = key_prefix
        self.default_ttl = default_ttl
        self.max_value_bytes = max_value_bytes
