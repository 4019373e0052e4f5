"""Who may open the console: a curator signed in on this browser, as the API itself would see them.

The console asks the API's authentication (the classes ``REST_FRAMEWORK`` names in the settings) rather
than reading the session itself: one rule decides who is a curator for both, so a session that ended or
a key that was revoked closes the console at the same moment as the API. A visitor is sent to the
sign-in page with ``next`` pointing back at the page they asked for, under the request's stage prefix.
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import Unavailable

SIGN_IN = "curator-login"


def curator_request(request) -> Request | None:
    """The request as the API sees it, when a curator makes it; None for anyone else (a wrong key in a
    header counts as nobody here, the API's own answers say why)."""
    # An API view's authenticators: the classes the settings name, made as every API request makes them.
    seen = Request(request, authenticators=APIView().get_authenticators())
    try:
        is_curator = bool(getattr(seen.user, "is_curator", False))
    except APIException:
        return None
    return seen if is_curator else None


def sign_in_url(request) -> str:
    """The sign-in page, coming back here afterwards (``get_full_path`` holds the stage prefix)."""
    return f"{reverse(SIGN_IN)}?{urlencode({'next': request.get_full_path()})}"


def curator_required(view: Callable) -> Callable:
    """A console page: curators get it (the view receives the API's view of the request as
    ``request.api``), anyone else the sign-in page."""

    @wraps(view)
    def page(request, *args, **kwargs):
        seen = curator_request(request)
        if seen is None:
            return HttpResponseRedirect(sign_in_url(request))
        request.api = seen
        try:
            return view(request, *args, **kwargs)
        except Unavailable as busy:  # storage throttled or failing, the request's time up: try again
            response = render(
                request, "console/problem.html", {"message": f"{busy.message} Try again shortly."}, status=503
            )
            response["Retry-After"] = str(busy.retry_after)
            return response

    return page
