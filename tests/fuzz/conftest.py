"""The fuzz suite's Hypothesis profile: reproducible (no example database, derandomized) and bounded."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "shieldwall-fuzz",
    database=None,
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
