"""Browser sign-in for curators: paste a key once, then use the browsable API with that power.

A sign-in starts a new server-side session (``gallery_project.session_store``: the cookie holds only a
random id) and a new CSRF token, so neither a session nor a token planted before it carries over.
Signing out deletes the session on the server at once. The login page answers GET and POST, the
sign-out POST; any other method is a 405 in the envelope with an ``Allow`` header, before any CSRF
check (a method that is never served needs no token to be refused).
"""

from django.http import HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from rest_framework.exceptions import Throttled

from core.http_errors import error_response, methods_only
from core.throttling import FailedSignInThrottle
from gallery_project.auth import SESSION_KEY
from gallery_project.curators import curator_from_key, key_hash


def _safe_next(request) -> str:
    # The API root under the request's stage prefix (/prod on API Gateway's default domain).
    default = reverse("api-root")
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# csrf_exempt only moves the CSRF check inside, after the method check: csrf_protect still checks every
# POST, and an unsupported method gets its 405 rather than a CSRF 403.
@csrf_exempt
@never_cache
@methods_only("GET", "POST")
@csrf_protect
def login(request):
    error = None
    if request.method == "POST":
        key = request.POST.get("key", "").strip()
        failures = FailedSignInThrottle()
        if failures.over(request):  # wrong keys from this address, counted like wrong Bearer keys
            return error_response(
                Throttled(wait=failures.wait(), detail="Too many wrong curator keys from here.")
            )
        if curator_from_key(key) is not None:
            # A new session, nothing carried over from the one before (another curator's, or one planted
            # before sign-in); the middleware writes it with a new random id when the answer leaves.
            request.session.flush()
            request.session[SESSION_KEY] = key_hash(key)
            rotate_token(request)  # a CSRF token known before sign-in no longer authorises writes
            return HttpResponseRedirect(_safe_next(request))
        failures.failed(request)
        error = "That key is unknown or was revoked."
    status = 401 if error else 200
    return render(request, "gallery/login.html", {"error": error, "next": _safe_next(request)}, status=status)


@csrf_exempt
@never_cache
@methods_only("POST")
@csrf_protect
def logout(request):
    request.session.flush()  # deletes the session's record: a copy of the cookie opens nothing after
    return HttpResponseRedirect(_safe_next(request))
