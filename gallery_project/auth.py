"""Who may do what: curators (by key or browser session) write, everyone reads.

Scripts send ``Authorization: Bearer <key>``. In a browser, a curator pastes the key once at
``/api/auth/login``; the session then remembers the key's hash on the server (a ServiceRecord,
``gallery_project.session_store``; the cookie holds only a random id) and requests are CSRF-checked
like DRF's SessionAuthentication. Every request of a session reads its key again, so a session ends
with its key; a session that ended (signed out, expired, or its key revoked) makes a visitor, whose
writes are 401.
"""

from rest_framework import authentication, exceptions, permissions

from core.throttling import FailedSignInThrottle
from gallery_project.curators import curator_from_hash, curator_from_key

SESSION_KEY = "curator_key_hash"


class Visitor:
    """DRF's UNAUTHENTICATED_USER: a visitor without a curator key (no django.contrib.auth needed)."""

    is_authenticated = False
    is_curator = False
    key_id = None

    def __str__(self) -> str:
        return "visitor"


class CuratorKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send exactly 'Authorization: Bearer <key>'.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The key contains characters a key never has.") from None
        # Wrong keys are counted per client address (each costs a lookup; guessing stays bounded).
        failures = FailedSignInThrottle()
        if failures.over(request):
            raise exceptions.Throttled(wait=failures.wait(), detail="Too many wrong curator keys from here.")
        curator = curator_from_key(key)
        if curator is None:
            failures.failed(request)
            raise exceptions.AuthenticationFailed("This key is unknown or was revoked.")
        return (curator, key)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="curators"'


class CuratorSessionAuthentication(authentication.SessionAuthentication):
    """A curator signed in through the browsable API. The key is read again on every request (one
    consistent read) rather than its sessions deleted on revocation: that is immediate with no index of
    sessions by key, and no sign-in racing a revocation can leave a live session behind."""

    def authenticate(self, request):
        hashed = request._request.session.get(SESSION_KEY)
        if not hashed:
            return None
        curator = curator_from_hash(hashed)
        if curator is None:
            return None
        self.enforce_csrf(request)
        return (curator, None)


class CuratorWritesOthersRead(permissions.BasePermission):
    message = "Only curators may change galleries and photos."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(getattr(request.user, "is_curator", False))
