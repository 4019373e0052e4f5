"""A curator's browser session, as a test starts one: the sign-in page, its CSRF token, the key."""

from rest_framework.test import APIClient


def signed_in(key: str) -> APIClient:
    """A browser (CSRF checked) that opened the sign-in page and signed in with ``key``."""
    browser = APIClient(enforce_csrf_checks=True)
    csrf = browser.get("/api/auth/login").cookies["csrftoken"].value
    response = browser.post("/api/auth/login", {"key": key, "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302
    return browser
