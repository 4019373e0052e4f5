"""How the OpenAPI schema describes every operation (drf-spectacular's ``AutoSchema``, the settings'
``DEFAULT_SCHEMA_CLASS``): the errors any operation may answer, ids in paths and bodies, and who may call it.
Each app describes its own operations next to its views with ``core.schema``'s vocabulary; the rule of which
errors an operation may answer is written once, here.

Loaded only when a schema is generated (``GET /api/schema``, ``manage.py spectacular``, the deploy checks):
drf-spectacular's generator pulls in yaml and jsonschema (about 90 ms on a cold start).
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS

from core import schema
from core.schema import error
from core.validation import ID_MAX_LENGTH, ID_PATTERN, IdField

ID_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN}$", "maxLength": ID_MAX_LENGTH}


class IdFieldSchema(OpenApiSerializerFieldExtension):
    """``core.validation.IdField`` as the schema says it: the id pattern, not just a string."""

    target_class = IdField

    def map_serializer_field(self, auto_schema, direction):
        return dict(ID_SCHEMA)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema of an operation, plus the error answers it may give (unless its own
    ``@extend_schema(responses=...)`` says more about a status):

    - any operation: 400 (a malformed request or input), 401 (a wrong key is refused even on reads),
      429 (throttled), 500 and 503;
    - a path with an id: 404;
    - a write: 403 (CSRF, a visitor id's token), 413 and 415 (its body).
    """

    def _resolve_path_parameters(self, variables):
        # Every id in a path (``{galleryId}``, ``{photoId}``, ``{userId}``) is an id: the ids rule.
        return [
            build_parameter_type(
                name=variable,
                location=OpenApiParameter.PATH,
                schema=ID_SCHEMA,
                description=f"The {variable[:-2]}'s id.",
            )
            for variable in variables
        ]

    def _get_request_body(self, direction="request"):
        # drf-spectacular describes bodies of POST, PUT and PATCH only. A DELETE that takes an optional
        # body (a photo's delete guard, which the guide's POST ?action=delete_photo sends) declares it
        # as ``request={"application/json": Serializer}`` and is described like a POST's, not required.
        if self.method == "DELETE" and isinstance(self.get_request_serializer(), dict):
            self.method = "POST"
            try:
                body = super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
            if body:
                body["required"] = False
            return body
        return super()._get_request_body(direction)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        for field in schema.get("properties", {}).values():
            # A text that may be blank and has a pattern is "the pattern, or empty": drf-spectacular says
            # oneOf, which refuses "" wherever the pattern also matches it (any of them is what it means).
            if {"type": "string", "maxLength": 0} in field.get("oneOf", []):
                field["anyOf"] = field.pop("oneOf")
        return schema

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            # DRF reads an optional query parameter sent empty (``?tag=``) as absent: not a refusal.
            if (
                parameter["in"] == "query"
                and not parameter.get("required")
                and schema.get("type") == "string"
            ):
                schema.pop("minLength", None)
        return parameters

    def get_auth(self):
        # Reads are open to visitors (a key shows a curator more); writes need a key unless the view is
        # open to everyone (a visitor's rating), which drf-spectacular sees from its permission.
        auth = super().get_auth()
        if self.method in SAFE_METHODS and {} not in auth:
            auth.append({})
        return auth

    def error_codes(self) -> list[int]:
        codes = [400, 401, 429, 500, 503]
        if "{" in self.path:
            codes.append(404)
        if self.method not in SAFE_METHODS:
            codes += [403, 413, 415]
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            if str(code) not in responses:
                answer = self._get_response_for_code(error(code), str(code), direction=direction)
                responses[str(code)] = answer
        return dict(sorted(responses.items()))

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) in ("429", "503"):
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }
        return headers


class SchemaGenerator(SpectacularSchemaGenerator):
    """drf-spectacular's generator, after making the settings' schema class (``core.schema.AutoSchema``, a
    light stand-in at import time: its docstring says why) this module's ``AutoSchema``."""

    def __init__(self, *args, **kwargs):
        if schema.AutoSchema.__bases__ != (AutoSchema,):
            schema.AutoSchema.__bases__ = (AutoSchema,)
        super().__init__(*args, **kwargs)
