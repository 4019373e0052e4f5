"""Browser sign-in for curators: paste a key once, then use the browsable API with that power."""

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from gallery_project.auth import SESSION_KEY
from gallery_project.curators import curator_from_key, key_hash

DEFAULT_NEXT = "/api/"


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or DEFAULT_NEXT
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return DEFAULT_NEXT


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login(request):
    error = None
    if request.method == "POST":
        key = request.POST.get("key", "").strip()
        if curator_from_key(key) is not None:
            request.session.cycle_key()
            request.session[SESSION_KEY] = key_hash(key)
            return HttpResponseRedirect(_safe_next(request))
        error = "That key is unknown or was revoked."
    status = 401 if error else 200
    return render(request, "gallery/login.html", {"error": error, "next": _safe_next(request)}, status=status)


@csrf_protect
@require_http_methods(["POST"])
def logout(request):
    request.session.flush()
    return HttpResponseRedirect(_safe_next(request))
