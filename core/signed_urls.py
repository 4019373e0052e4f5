"""Signed GET URLs that stay the same for a while, so browsers can cache what they open.

botocore signs a URL with the current second, so two reads of one photo a second apart answer two URLs
and a browser downloads the image twice. Here every URL signed within one window is signed as at the
window's start, and is valid for two windows from it: the same object read again answers the same URL
until the window turns, and every URL handed out is still valid for at least one window
(``MEDIA_SIGNED_URL_SECONDS`` is the validity; the window is half of it).

It plugs into botocore's own signer: the S3 client asks, through its ``choose-signer`` event, for a
signature version of its own for presigned URLs, whose class is botocore's S3 query signer with the
window's start as its time. Presigned POST forms and every other request are signed as before.
"""

import datetime

from botocore import auth
from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth

_PRESIGNED_GET = "s3v4-query"  # what botocore picks for a presigned S3 URL with signature_version="s3v4"
WINDOWED = "gallery-window-s3v4-query"  # our own name for it (must end in "-query", botocore checks)


def window_start(now: datetime.datetime, seconds: int) -> datetime.datetime:
    """The start of the signing window ``now`` falls in (windows of ``seconds``, counted from the epoch)."""
    epoch = datetime.datetime(1970, 1, 1)
    elapsed = int((now - epoch).total_seconds())
    return epoch + datetime.timedelta(seconds=elapsed - elapsed % max(1, seconds))


class WindowedQueryAuth(S3SigV4QueryAuth):
    """botocore's S3 query signer, signing as at the start of the current window; the expiry it is given
    (``MEDIA_SIGNED_URL_SECONDS``) counts from there, and the window is half of it."""

    def add_auth(self, request):
        # SigV4Auth.add_auth with a fixed time instead of the current second.
        if self.credentials is None:
            raise auth.NoCredentialsError()
        signed_at = window_start(auth.get_current_datetime(), int(self._expires) // 2)
        request.context["timestamp"] = signed_at.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


auth.AUTH_TYPE_MAPS.setdefault(WINDOWED, WindowedQueryAuth)


def _choose_windowed(signature_version, **_):
    return WINDOWED if signature_version == _PRESIGNED_GET else None


def windowed(client):
    """Have ``client`` sign its presigned GET URLs by window (``WindowedQueryAuth``); returns it."""
    client.meta.events.register("choose-signer.s3.GetObject", _choose_windowed)
    return client
