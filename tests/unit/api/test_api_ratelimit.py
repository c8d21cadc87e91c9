"""The per-token bucket: a burst, then one request per refill interval; Retry-After says how long."""

from __future__ import annotations

from shieldwall.api.ratelimit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert 0.99 < wait <= 1.0 and retry_after(wait) == "1"
    assert limiter.acquire("b") == 0.0  # buckets are per key
    clock.now += 0.5
    assert 0.49 < limiter.acquire("a") <= 0.5
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never more than the burst


def test_a_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(rate_per_minute=0, burst=1)
    assert not limiter.enabled
    assert all(limiter.acquire("a") == 0.0 for _ in range(100))


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after(0.01) == "1"
    assert retry_after(2.2) == "3"
