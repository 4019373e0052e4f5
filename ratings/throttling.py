"""Rate limits on rating writes, counted per client address."""

from typing import cast

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


def api_gateway_source_ip(request) -> str | None:
    """The address API Gateway saw the connection come from, when Zappa passed its event on.

    Zappa fills REMOTE_ADDR from X-Forwarded-For (its second-to-last entry), which a client can forge
    on a regional endpoint; the event's ``sourceIp`` is set by API Gateway itself.
    """
    event = request.META.get("lambda.event") or {}
    context = event.get("requestContext") or {}
    identity = context.get("identity") or context.get("http") or {}  # REST API (v1) or HTTP API (v2)
    return identity.get("sourceIp") or None


class RatingWriteThrottle(SimpleRateThrottle):
    """The ``ratings`` rate of DEFAULT_THROTTLE_RATES, one bucket per client address.

    The address is API Gateway's ``sourceIp`` on Lambda and REMOTE_ADDR elsewhere; X-Forwarded-For is
    only read when NUM_PROXIES says how many proxies of ours append to it (a CDN in front of the API).
    """

    scope = "ratings"

    def get_rate(self) -> str | None:
        # Read per request, not at import like DRF's THROTTLE_RATES, so changed settings apply at once.
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"DEFAULT_THROTTLE_RATES has no {self.scope!r} rate.")
        return cast(str | None, rates[self.scope])

    def get_ident(self, request) -> str:
        if api_settings.NUM_PROXIES:
            return super().get_ident(request)
        return api_gateway_source_ip(request) or request.META.get("REMOTE_ADDR", "")

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
