"""Rate limits counted per client address: visitors' reads (``reads``) and rating writes (``ratings``),
rates from DEFAULT_THROTTLE_RATES, read per request. Answers over a limit are 429 with ``Retry-After``."""

from typing import cast

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def api_gateway_source_ip(request) -> str | None:
    """The address API Gateway saw the connection come from, when Zappa passed its event on.

    Zappa fills REMOTE_ADDR from X-Forwarded-For (its second-to-last entry), which a client can forge
    on a regional endpoint; the event's ``sourceIp`` is set by API Gateway itself.
    """
    event = request.META.get("lambda.event") or {}
    context = event.get("requestContext") or {}
    identity = context.get("identity") or context.get("http") or {}  # REST API (v1) or HTTP API (v2)
    return identity.get("sourceIp") or None


def client_address(request) -> str:
    """The client's address: API Gateway's ``sourceIp`` on Lambda and REMOTE_ADDR elsewhere;
    X-Forwarded-For is only read when NUM_PROXIES says how many proxies of ours append to it (a CDN in
    front of the API), so a client cannot name an address of its choosing."""
    if api_settings.NUM_PROXIES:
        return BaseThrottle().get_ident(request)
    return api_gateway_source_ip(request) or request.META.get("REMOTE_ADDR", "")


class AddressThrottle(SimpleRateThrottle):
    """A rate of DEFAULT_THROTTLE_RATES (``scope``), one bucket per client address.

    The address is ``client_address``'s.
    """

    def get_rate(self) -> str | None:
        # Read per request, not at import like DRF's THROTTLE_RATES, so changed settings apply at once.
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"DEFAULT_THROTTLE_RATES has no {self.scope!r} rate.")
        return cast(str | None, rates[self.scope])

    def get_ident(self, request) -> str:
        return client_address(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RatingWriteThrottle(AddressThrottle):
    """Rating writes (they move the aggregates), per client address."""

    scope = "ratings"


class FailedSignInThrottle(AddressThrottle):
    """Wrong curator keys (a header or the sign-in form), per client address: each costs a key lookup,
    and guessing is bounded. Callers count a failure with ``failure_allowed``; over the rate, 429."""

    scope = "auth_failures"

    def over(self, request) -> bool:
        """Whether this address has used up its failures (checked before the lookup; nothing counted)."""
        if self.rate is None:
            return False
        allowed, duration = self.parse_rate(self.rate)
        if allowed is None or duration is None:
            return False
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - duration:
            self.history.pop()
        return len(self.history) >= allowed

    def failed(self, request) -> None:
        """Count one wrong key from this address."""
        if self.rate is not None and not self.over(request):
            self.throttle_success()


class VisitorReadThrottle(AddressThrottle):
    """Visitors' reads, per client address: anonymous reads cost storage reads, so they are bounded
    too. Curators' requests and writes are not counted here (writes have their own limits or a key)."""

    scope = "reads"

    def allow_request(self, request, view) -> bool:
        if request.method not in SAFE_METHODS or getattr(request.user, "is_curator", False):
            return True
        return super().allow_request(request, view)
