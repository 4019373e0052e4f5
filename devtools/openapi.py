"""The API's committed contract, ``docs/openapi.yaml``, and the changes that would break its clients.

    python -m devtools.openapi write           # regenerate docs/openapi.yaml (+ the JS client's types)
    python -m devtools.openapi check           # exit 1 if the committed schema is stale or a change breaks it
    python -m devtools.openapi diff OLD NEW    # what NEW breaks for clients of OLD (two schema files)

The schema is drf-spectacular's (``manage.py spectacular --validate --fail-on-warn``), generated in a clean
environment so it is the same on every machine. A change to the API changes the generated schema; the tests
(tests/contract/test_schema.py) fail until ``docs/openapi.yaml`` is regenerated in the same commit, and name
every change that would break a client built on the committed one: a removed path, operation, parameter,
field, enum value, success status or media type; a field whose type changed; an answer's field that may
now be null or absent; a request field or parameter that became required. (Narrower limits, a new
security requirement and the like are not named: the schema is then only "stale".) Making such a change
on purpose is ``make openapi`` and committing both files, saying in the commit what breaks and for whom
(README, "The API's contract").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCHEMA_FILE = PROJECT_DIR / "docs" / "openapi.yaml"
JS_CLIENT_DIR = PROJECT_DIR / "clients" / "js"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Only what the settings need to load; nothing of the machine's environment (a local .env file, an
# operator's variables) reaches the generator, so the schema is the same everywhere.
_CLEAN_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "gallery_project.settings",
    "DJANGO_SECRET_KEY": "openapi-only",
    "GALLERY_ENV_FILE": "",
}


def generate(destination: Path) -> None:
    """The schema as ``manage.py spectacular`` writes it; any warning of the generator is an error."""
    environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    command = [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"]
    result = subprocess.run(
        [*command, "--file", str(destination)],
        cwd=PROJECT_DIR,
        env={**environment, **_CLEAN_ENVIRONMENT},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py spectacular failed:\n{result.stdout}{result.stderr}")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def breaking_changes(old: dict, new: dict) -> list[str]:
    """What a client written against ``old`` would find missing or refused in ``new``."""
    return list(_paths_changes(old.get("paths", {}), new.get("paths", {}))) + list(
        _components_changes(old.get("components", {}), new.get("components", {}))
    )


def _paths_changes(old: dict, new: dict) -> Iterator[str]:
    for path, old_item in old.items():
        if path not in new:
            yield f"path {path} removed"
            continue
        for method in HTTP_METHODS:
            if method not in old_item:
                continue
            operation = f"{method.upper()} {path}"
            if method not in new[path]:
                yield f"operation {operation} removed"
                continue
            yield from _parameters_changes(operation, old_item[method], new[path][method])
            yield from _content_changes(
                f"{operation} request",
                old_item[method].get("requestBody", {}).get("content", {}),
                new[path][method].get("requestBody", {}).get("content", {}),
                is_request=True,
            )
            old_answers = old_item[method].get("responses", {})
            new_answers = new[path][method].get("responses", {})
            for code, answer in old_answers.items():
                if code not in new_answers:
                    # An error no longer answered takes nothing from a client; a success does.
                    if code.startswith(("2", "3")):
                        yield f"{operation}: answer {code} no longer given"
                    continue
                yield from _content_changes(
                    f"{operation} {code} answer",
                    answer.get("content", {}),
                    new_answers[code].get("content", {}),
                    is_request=False,
                )


def _content_changes(label: str, old: dict, new: dict, *, is_request: bool) -> Iterator[str]:
    """A body's media types: one no longer there, or the changes of each one's schema."""
    for media_type, body in old.items():
        if media_type not in new:
            yield f"{label}: no longer as {media_type}"
            continue
        yield from _schema_changes(label, body.get("schema"), new[media_type].get("schema"), is_request)


def _parameters_changes(operation: str, old: dict, new: dict) -> Iterator[str]:
    new_parameters = {(p["in"], p["name"]): p for p in new.get("parameters", [])}
    for parameter in old.get("parameters", []):
        key = (parameter["in"], parameter["name"])
        label = f"{operation}: {parameter['in']} parameter {parameter['name']}"
        if key not in new_parameters:
            yield f"{label} removed"
            continue
        if new_parameters[key].get("required") and not parameter.get("required"):
            yield f"{label} now required"
        new_schema = new_parameters[key].get("schema", {})
        yield from _schema_changes(label, parameter.get("schema", {}), new_schema, True)
    old_keys = {(p["in"], p["name"]) for p in old.get("parameters", [])}
    for key, parameter in new_parameters.items():
        if parameter.get("required") and key not in old_keys:
            yield f"{operation}: new required {key[0]} parameter {key[1]}"


def _components_changes(old: dict, new: dict) -> Iterator[str]:
    old_schemas, new_schemas = old.get("schemas", {}), new.get("schemas", {})
    for name, schema in old_schemas.items():
        if name not in new_schemas:
            yield f"schema {name} removed"
            continue
        # drf-spectacular names request bodies "<Name>Request" (COMPONENT_SPLIT_REQUEST).
        is_request = name.endswith("Request")
        yield from _schema_changes(f"schema {name}", schema, new_schemas[name], is_request)
    for name in old.get("securitySchemes", {}):
        if name not in new.get("securitySchemes", {}):
            yield f"security scheme {name} removed"


def _schema_changes(where: str, old: object, new: object, is_request: bool) -> Iterator[str]:
    """Removed fields and enum values, anywhere in a schema; for a request, newly required fields."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    if "type" in old and "type" in new and old["type"] != new["type"]:
        yield f"{where}: type {old['type']} is now {new['type']}"
    if not is_request:
        if new.get("nullable") and not old.get("nullable"):
            yield f"{where}: may now be null"
        for field in set(old.get("required", [])) - set(new.get("required", [])):
            if field in new.get("properties", {}):
                yield f"{where}: field {field} may now be absent"
    old_enum, new_enum = old.get("enum"), new.get("enum")
    if isinstance(old_enum, list):
        for value in old_enum:
            if value is not None and (not isinstance(new_enum, list) or value not in new_enum):
                yield f"{where}: enum value {value!r} removed"
    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    for field, old_field in old_properties.items():
        if field not in new_properties:
            yield f"{where}: field {field} removed"
            continue
        yield from _schema_changes(f"{where}.{field}", old_field, new_properties[field], is_request)
    if is_request:
        for field in set(new.get("required", [])) - set(old.get("required", [])):
            yield f"{where}: field {field} now required"
    if old.get("$ref") != new.get("$ref") and "$ref" in old:
        yield f"{where}: now {new.get('$ref', 'an inline schema')}, was {old['$ref']}"
    for key in ("items", "additionalProperties"):
        yield from _schema_changes(f"{where}[]", old.get(key), new.get(key), is_request)
    for key in ("allOf", "oneOf", "anyOf"):
        for old_part, new_part in zip(old.get(key, []), new.get(key, []), strict=False):
            yield from _schema_changes(where, old_part, new_part, is_request)


def write_js_types() -> str:
    """The JS client's types from the committed schema (``npm run generate`` in clients/js)."""
    if not (JS_CLIENT_DIR / "node_modules").is_dir():
        return "clients/js/node_modules is missing (make setup installs it): its types were not regenerated"
    subprocess.run(["npm", "run", "--silent", "generate"], cwd=JS_CLIENT_DIR, check=True)
    return "clients/js/src/schema.d.ts regenerated"


def check() -> list[str]:
    """Problems with the committed schema: stale (and what in the change would break clients)."""
    with tempfile.TemporaryDirectory() as folder:
        current = Path(folder) / "openapi.yaml"
        generate(current)
        if not SCHEMA_FILE.exists():
            return [f"{SCHEMA_FILE.relative_to(PROJECT_DIR)} is missing: run `make openapi`"]
        if current.read_bytes() == SCHEMA_FILE.read_bytes():
            return []
        breaking = breaking_changes(load(SCHEMA_FILE), load(current))
        return [
            "docs/openapi.yaml is not the schema the code generates: run `make openapi` and commit it",
            *(f"BREAKING: {change}" for change in breaking),
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.openapi", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("write", help="regenerate docs/openapi.yaml and the JS client's types")
    commands.add_parser("check", help="exit 1 if docs/openapi.yaml is stale; name what would break")
    diff = commands.add_parser("diff", help="what NEW breaks for clients of OLD")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    arguments = parser.parse_args(argv)
    if arguments.command == "write":
        generate(SCHEMA_FILE)
        print(f"{SCHEMA_FILE.relative_to(PROJECT_DIR)} written; {write_js_types()}")
        return 0
    if arguments.command == "check":
        problems = check()
        print("\n".join(problems) or "docs/openapi.yaml is current")
        return 1 if problems else 0
    changes = breaking_changes(load(arguments.old), load(arguments.new))
    print("\n".join(changes) or "nothing breaks")
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main())
