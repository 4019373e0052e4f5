"""The committed contract: docs/openapi.yaml is the schema the code generates (drf-spectacular, validated,
no warning), and a change that would break a client built on it is named, not just "stale"."""

import copy

import pytest

from devtools.openapi import SCHEMA_FILE, breaking_changes, check, load


def test_the_committed_schema_is_the_one_the_code_generates_with_no_warning():
    # check() runs `manage.py spectacular --validate --fail-on-warn` (a warning fails it) and compares.
    assert check() == []


@pytest.fixture(scope="module")
def committed() -> dict:
    return load(SCHEMA_FILE)


def test_the_committed_schema_breaks_nothing_against_itself(committed):
    assert breaking_changes(committed, copy.deepcopy(committed)) == []


def test_a_removed_path_or_operation_is_named(committed):
    changed = copy.deepcopy(committed)
    del changed["paths"]["/api/visitors"]
    del changed["paths"]["/api/galleries/{galleryId}"]["patch"]
    assert set(breaking_changes(committed, changed)) == {
        "path /api/visitors removed",
        "operation PATCH /api/galleries/{galleryId} removed",
    }


def test_a_removed_answer_field_is_named(committed):
    changed = copy.deepcopy(committed)
    del changed["components"]["schemas"]["Gallery"]["properties"]["coverPhotoURL"]
    assert breaking_changes(committed, changed) == ["schema Gallery: field coverPhotoURL removed"]


def test_a_removed_enum_value_is_named(committed):
    changed = copy.deepcopy(committed)
    enum_name, enum = next(
        (name, schema) for name, schema in changed["components"]["schemas"].items() if "enum" in schema
    )
    removed = enum["enum"].pop()
    assert breaking_changes(committed, changed) == [f"schema {enum_name}: enum value {removed!r} removed"]


def test_a_removed_parameter_and_a_new_required_one_are_named(committed):
    changed = copy.deepcopy(committed)
    listing = changed["paths"]["/api/galleries"]["get"]
    listing["parameters"] = [p for p in listing["parameters"] if p["name"] != "continent"]
    listing["parameters"].append(
        {"in": "query", "name": "region", "required": True, "schema": {"type": "string"}}
    )
    assert set(breaking_changes(committed, changed)) == {
        "GET /api/galleries: query parameter continent removed",
        "GET /api/galleries: new required query parameter region",
    }


def test_a_request_field_made_required_breaks_but_additions_do_not(committed):
    changed = copy.deepcopy(committed)
    schemas = changed["components"]["schemas"]
    schemas["GalleryInputRequest"]["required"].append("description")
    schemas["Gallery"]["properties"]["brandNew"] = {"type": "string"}
    changed["paths"]["/api/brand-new"] = {"get": {"responses": {}}}
    assert breaking_changes(committed, changed) == [
        "schema GalleryInputRequest: field description now required"
    ]


def test_breaking_changes_reach_inline_schemas_of_bodies_and_answers():
    old = {
        "paths": {
            "/x": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"properties": {"a": {}}}}}},
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"properties": {"b": {}}}}}}
                    },
                }
            }
        }
    }
    new = copy.deepcopy(old)
    del new["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["a"]
    del new["paths"]["/x"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "b"
    ]
    assert breaking_changes(old, new) == [
        "POST /x request: field a removed",
        "POST /x 200 answer: field b removed",
    ]


def test_changed_types_nullability_statuses_and_media_types_are_named(committed):
    changed = copy.deepcopy(committed)
    gallery = changed["components"]["schemas"]["Gallery"]
    gallery["properties"]["photoCount"]["type"] = "string"
    gallery["properties"]["name"]["nullable"] = True
    gallery["required"].remove("country")
    create = changed["paths"]["/api/galleries"]["post"]["responses"]
    create["200"] = create.pop("201")
    listing = changed["paths"]["/api/galleries"]["get"]
    listing["responses"]["200"]["content"] = {"application/xml": {"schema": {"type": "string"}}}
    [cursor] = [p for p in listing["parameters"] if p["name"] == "cursor"]
    cursor["required"] = True
    assert set(breaking_changes(committed, changed)) == {
        "schema Gallery.photoCount: type integer is now string",
        "schema Gallery.name: may now be null",
        "schema Gallery: field country may now be absent",
        "POST /api/galleries: answer 201 no longer given",
        "GET /api/galleries 200 answer: no longer as application/json",
        "GET /api/galleries: query parameter cursor now required",
    }
