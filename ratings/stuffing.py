"""Rating stuffing is bounded: new visitor ids rating one photo from one client address are capped per
day (``RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY``); over it, 429.

The address is never stored: a counter is keyed by a salted hash of it (HMAC with the service's secret
key), the photo and the day, in the short-lived records table, and expires with its day. A visitor
re-rating counts nothing; only a visitor id new to the photo does.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from django.conf import settings

from core.errors import RateLimited
from core.records import record_count_up

KIND = "new-raters"
WINDOW = timedelta(days=1)


def address_hash(address: str) -> str:
    """A salted hash of a client address: counters can be told apart, the address cannot be read back."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"rating-address:{address}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def new_rater_count(*, address: str, photo_id: str) -> None:
    """Count a visitor id new to this photo from this address; RateLimited over the day's cap."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    record_id = f"{address_hash(address)}/{photo_id}/{day}"
    limit = settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY
    if not record_count_up(KIND, record_id, limit=limit, lifetime=WINDOW):
        raise RateLimited(
            f"At most {limit} new visitors a day may rate this photo from one address.",
            code="too_many_new_raters",
        )
