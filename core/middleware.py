"""Request ids (every request gets one, echoed in `X-Request-Id` and in error logs) and deadlines."""

import re
import uuid

from django.conf import settings

from core.deadline import within

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class DeadlineMiddleware:
    """Every request has REQUEST_DEADLINE_SECONDS: no AWS call starts that could end after it
    (``core.deadline``), so a hung S3 or DynamoDB answers 503 in time rather than API Gateway's 504."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with within(settings.REQUEST_DEADLINE_SECONDS):
            return self.get_response(request)
