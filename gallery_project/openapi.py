"""The project's parts of the OpenAPI schema: which endpoints it describes, the curator key as a security
scheme, and the customer's guide's single endpoint ``/galleries``.

drf-spectacular imports this module when it generates the schema (the hooks in ``SPECTACULAR_SETTINGS``),
which registers the authentication extension below before any operation is described.
"""

import re

from django.conf import settings
from django.urls import get_script_prefix
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from gallery_project import compat


class CuratorKeyScheme(OpenApiAuthenticationExtension):
    target_class = "gallery_project.auth.CuratorKeyAuthentication"
    name = "curatorKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A curator key (`manage.py create_curator_key`), sent as `Authorization: Bearer <key>`. "
                "Reads need none; a wrong key is refused (401) even on a read."
            ),
        }


class CuratorSessionScheme(OpenApiAuthenticationExtension):
    target_class = "gallery_project.auth.CuratorSessionAuthentication"
    name = "curatorSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "A browser signed in at `/api/auth/login` with a curator key; writes also send the "
                "`X-CSRFToken` header."
            ),
        }


# A path's ids are named after the collection they are in (/api/galleries/{galleryId}/photos/{photoId}).
_ID_NAMES = {"galleries": "galleryId", "photos": "photoId", "ratings": "userId"}
_VARIABLE = re.compile(r"^\{[^}]+\}$")


def documented_path(path: str) -> str:
    """``/api/galleries/{gallery_pk}/photos/{pk}/`` as clients see it: ``/api/galleries/{galleryId}/photos/
    {photoId}`` (the URLs take both, with or without the trailing slash)."""
    segments = path.rstrip("/").split("/")
    for index, segment in enumerate(segments):
        if _VARIABLE.match(segment):
            segments[index] = "{" + _ID_NAMES[segments[index - 1]] + "}"
    return "/".join(segments)


def api_operations_only(endpoints):
    """The schema describes the API under ``/api/`` (the guide's ``/galleries`` is added by
    ``guide_routes``); the browsable API's root page and the sign-in pages are for people, not clients."""
    return [
        (documented_path(path), path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
        if path.startswith("/api/") and path != "/api/" and not path.startswith("/api/auth/")
    ]


def served_here(result, generator, request, public):
    """The schema served by a request names where the API is: under its stage prefix (``/prod`` on a Zappa
    stage's default domain), so Swagger UI's "try it out" and Redoc call the API there. The committed
    copy, generated with no request, names no server: the API's paths are relative to wherever it runs."""
    if request is not None:
        result["servers"] = [{"url": get_script_prefix().rstrip("/") or "/", "description": "This service"}]
    return result


def guide_routes(result, generator, request, public):
    """Adds ``/galleries``, the guide's single endpoint: one path whose ``action`` picks the operation."""
    result["paths"] = {"/galleries": guide_path_item(result, generator), **result["paths"]}
    return result


# -- The guide's /galleries ------------------------------------------------------------------------------

_GUIDE_DESCRIPTION = (
    "The customer's guide's single endpoint: the HTTP method and `?action=` choose an operation of the "
    "REST API, `?id=` names its gallery. It answers exactly as that operation does."
)


def _operations_of_routes(result: dict, generator) -> dict[tuple[str, str | None, bool], dict]:
    """Each guide route (method, action, with ``?id=``) and the REST operation it runs, found through the
    view method both reach (``compat.ROUTES`` is the only table of routes)."""
    by_view_method = {}
    for path, _regex, method, callback in generator.endpoints:
        for http_method, view_method in getattr(callback, "actions", {}).items():
            if http_method.upper() == method:
                by_view_method[(callback.cls, view_method)] = result["paths"][documented_path(path)][
                    http_method
                ]
    routes = {}
    for (method, action), route in compat.ROUTES.items():
        routes[(method, action, False)] = by_view_method[(route.viewset, route.method)]
        if route.with_id:
            routes[(method, action, True)] = by_view_method[(route.viewset, route.with_id)]
    return routes


def _merged_content(contents: list[dict]) -> dict:
    """Bodies of several operations as one: per media type, the one schema or any of them."""
    merged: dict[str, list] = {}
    for content in contents:
        for media_type, body in content.items():
            schemas = merged.setdefault(media_type, [])
            if body.get("schema") not in schemas:
                schemas.append(body.get("schema"))
    return {
        media_type: {"schema": schemas[0] if len(schemas) == 1 else {"anyOf": schemas}}
        for media_type, schemas in merged.items()
    }


def _with_path_ids(content: dict, parameters: list[dict]) -> dict:
    """A write's body as the guide sends it: the ids a REST path carries (a rating's photoId and userId,
    the photo to delete), but the gallery's (``?id=``), are required fields of the body."""
    ids = [p for p in parameters if p["in"] == "path" and p["name"] != "galleryId"]
    if not ids:
        return content
    fields = {
        "type": "object",
        "required": [p["name"] for p in ids],
        "properties": {p["name"]: p["schema"] for p in ids},
    }
    if not content:
        return {"application/json": {"schema": fields}}
    return {
        media_type: {**body, "schema": {"allOf": [body["schema"], fields]}}
        for media_type, body in content.items()
    }


def _guide_operation(method: str, operations: dict[str, dict], *, id_required: bool) -> dict:
    """One method of /galleries: ``operations`` maps each way of calling it (its action) to the REST
    operation it runs."""
    actions = sorted({name.partition(" ")[0] for name in operations if not name.startswith("(")})
    without_action = [name for name in operations if name.startswith("(")]
    parameters: dict[tuple, dict] = {}
    action_lines = [
        f"- {name}: `{op['operationId']}`. {op.get('summary', '')}" for name, op in operations.items()
    ]
    if actions:
        parameters[("query", "action")] = {
            "in": "query",
            "name": "action",
            "required": not without_action,
            "schema": {"type": "string", "enum": actions},
            "description": "The operation to run (absent: "
            + (", ".join(without_action) or "not allowed")
            + ").",
        }
    parameters[("query", "id")] = {
        "in": "query",
        "name": "id",
        "required": id_required,
        "schema": {"type": "string"},
        "description": "The gallery: required by the operations that act on one.",
    }
    responses: dict[str, list[dict]] = {}
    bodies, security = [], []
    for operation in operations.values():
        for parameter in operation.get("parameters", []):
            location = parameter["in"]
            if location == "path":
                # The gallery's id is ?id=; a rating's photoId and userId are query parameters of a
                # read and fields of a write's body.
                if parameter["name"] == "galleryId" or method != "GET":
                    continue
                location = "query"
            key = (location, parameter["name"])
            if key not in parameters:
                parameters[key] = {**parameter, "in": location, "required": False}
        body = operation.get("requestBody", {}).get("content", {})
        if method != "GET":
            body = _with_path_ids(body, operation.get("parameters", []))
        if body:
            bodies.append(body)
        for code, answer in operation.get("responses", {}).items():
            responses.setdefault(code, []).append(answer)
        for requirement in operation.get("security", []):
            if requirement not in security:
                security.append(requirement)
    merged_responses = {}
    for code, answers in sorted(responses.items()):
        descriptions = list(dict.fromkeys(answer.get("description", "") for answer in answers))
        merged: dict[str, object] = {
            "description": " / ".join(description for description in descriptions if description)
        }
        headers = {name: header for answer in answers for name, header in answer.get("headers", {}).items()}
        if headers:
            merged["headers"] = headers
        contents = [answer["content"] for answer in answers if answer.get("content")]
        if contents:
            merged["content"] = _merged_content(contents)
        merged_responses[code] = merged
    operation = {
        "operationId": f"guideGalleries{method.capitalize()}",
        "summary": f"{method} /galleries (the guide's routes)",
        "description": _GUIDE_DESCRIPTION + "\n\n" + "\n".join(action_lines),
        "tags": ["guide"],
        "parameters": list(parameters.values()),
        "responses": merged_responses,
        "security": security,
    }
    if bodies:
        operation["requestBody"] = {"content": _merged_content(bodies)}
    return operation


def guide_path_item(result: dict, generator) -> dict:
    routes = _operations_of_routes(result, generator)
    item = {}
    for method in ("GET", "POST", "PUT", "DELETE"):
        operations = {}
        for (route_method, action, with_id), operation in routes.items():
            if route_method != method:
                continue
            if action is None:
                name = "(with ?id=)" if with_id else "(no action)"
                if not with_id and compat.ROUTES[(method, None)].with_id:
                    name = "(no ?id=)"
            else:
                name = f"{action}"
            operations[name] = operation
        id_required = all(route.id_required for (known, _), route in compat.ROUTES.items() if known == method)
        item[method.lower()] = _guide_operation(method, operations, id_required=id_required)
    return item
