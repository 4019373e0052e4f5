"""Schema fuzzing (issue 11, must-show 2): schemathesis drives every operation of the OpenAPI schema (the
`/api/` routes and the guide's `/galleries`) against the app's WSGI application in-process, under moto,
once as an anonymous visitor and once with a curator key, and checks every answer against the schema.

- The schema: ``docs/openapi.yaml``, the committed contract (tests/contract/test_schema.py keeps it equal
  to what the code generates). It is loaded at collection, not in a fixture, so each operation x
  credential is a test of its own that xdist spreads.
- The data: each test starts on fresh tables with a public gallery (``fuzz-gallery``), two tiny photos and
  a rating by ``fuzz-visitor``. Those ids are added to the loaded schema as ``examples`` of the parameters
  and body fields that name them, so the examples phase uses them and the fuzzing phase mixes them in; the
  photos' ids and the visitor's token are random, so the examples carry placeholders that each case has
  swapped for the real values before it is sent.
- Bounded and deterministic: hypothesis is derandomized, with ``MAX_EXAMPLES`` generated cases per test
  (positive and negative), no example database and no deadline; the examples and coverage phases add a
  fixed set of cases each (schemathesis derives them from the schema alone). Same cases on every run.
- Throttles are raised for the run (settings), so the fuzzer reaches the code instead of a 429.
- Checks: every answer conforms (status, content type, headers, body; no 5xx; auth enforced); requests
  that break the schema are refused and those that keep it are not, narrowed where this API has a rule no
  schema can state (``STATEFUL_REFUSALS``, ``_readings``). A stateful run adds sequences of calls.

Each test records what it tried (user property ``schemathesis``); tests/tiers.py prints the total.
"""

import copy
import json
import re
import uuid
from collections.abc import Mapping

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import providers
from moto import mock_aws
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from devtools.openapi import SCHEMA_FILE, load
from galleries.services import gallery_create
from gallery_project.curators import curator_key_create
from gallery_project.resources import resources_ensure
from gallery_project.wsgi import application
from tests.factories import jpeg_bytes

# Generated cases per operation and credential; the examples and coverage phases add their own, a fixed
# number per operation (about 3,150 cases in all for 24 operations x 2 credentials, 480 of them from
# here, plus ~115 calls in stateful sequences). Measured for the module on 2 workers (-n 2): 45-55 s wall
# with the 2-core machine to itself (~95 s of CPU), up to 90 s while other test runs share the cores.
MAX_EXAMPLES = 10
# function_scoped_fixture: the data is seeded once per test on purpose (once per case would cost ~0.3 s
# each); a case may change it (a DELETE), and derandomized cases run in the same order, so what the next
# one finds is the same on every run.
# too_slow / filter_too_much / data_too_large: schemathesis filters draws against the schema's patterns,
# and each case is a request under moto on a shared machine: how many draws pass, or how fast, changes
# with the load, not with the code.
SUPPRESSED_HEALTH_CHECKS = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.filter_too_much,
    HealthCheck.data_too_large,
]

# Where a rule of this API is one no schema can state (so a check built on "the schema says what is
# valid" would fail on a correct answer), the two data checks below are narrowed to exactly that rule.

# A 400 envelope whose ``details`` name only these fields (with this message, when one is given) refuses a
# request the schema rightly calls valid, for a reason that depends on state or on another field:
STATEFUL_REFUSALS = [
    ("cursor", None),  # only a cursor the API handed out is valid (an opaque, signed token)
    ("year", None),  # the upper bound is next year: it moves, so a committed schema cannot carry it
    ("years", None),
    ("uploadKey", None),  # only a key this gallery handed out (createUploadSlots) is valid
    ("descriptions", " given for "),  # one per photo sent, and the count of photos is another field
    ("titles", " given for "),
    ("tags", " given for "),
    ("galleryId", "Does not match"),  # a body's copy of an id in the URL must equal it
    ("photoId", "Does not match"),
    ("userId", "Does not match"),
    ("s3Key", "Does not match"),  # a delete naming the photo's stored key must name the one stored
    ("coverPhotoId", None),  # a gallery's cover must be one of its live photos
]
# Answers the default lists of the data checks lack, documented for these operations:
REFUSALS_OF_VALID_DATA = {
    # If-Match naming no current version (any string is a well-formed entity tag list)
    "PUT /api/galleries/{galleryId}": {412},
    "PATCH /api/galleries/{galleryId}": {412},
    "PATCH /api/galleries/{galleryId}/photos/{photoId}": {412},
    # bytes that are no image (the schema says binary: any bytes)
    "POST /api/galleries/{galleryId}/photos": {415},
}
REFUSALS_OF_INVALID_DATA = {412, 413}  # a precondition or size refusal may come before the body is read


def _refusal_fields(details, name: str = "") -> set[tuple[str, str]]:
    """(field, message) for each message of an envelope's ``details``, nested lists and items named by the
    innermost field name (``{"uploads": {"0": {"uploadKey": [...]}}}`` names uploadKey)."""
    if isinstance(details, dict):
        return {
            pair
            for key, value in details.items()
            for pair in _refusal_fields(value, name if key.isdigit() else key)
        }
    if isinstance(details, list):
        return {pair for value in details for pair in _refusal_fields(value, name)}
    return {(name, str(details))}


def _refused_for_state(response) -> bool:
    if response.status_code != 400:
        return False
    try:
        details = json.loads(response.content)["details"]
    except (ValueError, KeyError, TypeError):
        return False
    refused = _refusal_fields(details)
    return bool(refused) and all(
        any(
            field == name and (fragment is None or fragment in message)
            for name, fragment in STATEFUL_REFUSALS
        )
        for field, message in refused
    )


def valid_data_is_accepted(ctx, response, case):
    """positive_data_acceptance, except for the refusals above."""
    if response.status_code in REFUSALS_OF_VALID_DATA.get(case.operation.label, ()) or _refused_for_state(
        response
    ):
        return None
    return positive_data_acceptance(ctx, response, case)


def _readings(value, multipart: bool) -> list:
    """What DRF's fields make of a value sent for them: a number read as text (CharField), 0/1 and their
    spellings as booleans (BooleanField), an integral number or numeric text as an integer (IntegerField);
    in a multipart body every value is text, and one value is a list of one (ListField)."""
    readings: list = []
    if isinstance(value, bool):
        readings.append(str(value).lower())
    elif isinstance(value, int | float):
        readings.append(str(value))
        if value in (0, 1):
            readings.append(bool(value))
        if isinstance(value, float) and value.is_integer():
            readings.append(int(value))
    elif isinstance(value, str):
        if value.lower() in ("0", "1", "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n"):
            readings.append(value.lower() in ("1", "true", "yes", "on", "t", "y"))
        if value.strip().lstrip("+-").isdigit():
            readings.append(int(value))
    if multipart:
        text = value if isinstance(value, str) else json.dumps(value)
        readings += [text, [text]]
    return readings


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    yield path, value


def _replaced(value, path, new):
    if not path:
        return new
    head, *rest = path
    copied = copy.copy(value)
    copied[head] = _replaced(value[head], rest, new)
    return copied


def _valid_as_drf_reads_it(case) -> bool:
    """Whether the case's body, with one value as DRF reads it (``_readings``), keeps the schema: the
    negative mutation was then a type DRF converts, not data it accepts wrongly."""
    body = (
        case.operation.get_body_for_media_type(case.media_type)
        if isinstance(case.body, dict | list)
        else None
    )
    if body is None:
        return False
    multipart = case.media_type.startswith("multipart/")
    # Files are bytes, which a JSON Schema validator cannot read; any string is a binary's valid stand-in.
    sent = json.loads(json.dumps(case.body, default=lambda _: ""))
    validator = body.get_validator()
    return any(
        validator.is_valid(_replaced(sent, path, reading))
        for path, value in _leaves(sent)
        for reading in _readings(value, multipart)
    )


def _optional_body_sent_as_null(case) -> bool:
    """A JSON ``null`` for a body the operation does not require: DRF reads it as no body, as allowed."""
    # (The coverage phase also sends methods the path does not declare.)
    operation = RAW_SCHEMA["paths"][case.operation.path].get(case.method.lower(), {})
    return case.body is None and not operation.get("requestBody", {}).get("required", False)


def invalid_data_is_refused(ctx, response, case):
    """negative_data_rejection, except for a type DRF converts (``_readings``), a ``null`` optional body and
    412/413 answers."""
    if response.status_code in REFUSALS_OF_INVALID_DATA or _optional_body_sent_as_null(case):
        return None
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if _valid_as_drf_reads_it(case):
            return None
        raise


CONFORMANCE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # A write answered 2xx without a key is a hole; with the curator's key, schemathesis also re-sends it
    # without a key and with a wrong one, which must be refused.
    ignored_auth,
    # The coverage phase drops required headers: refused with a 4xx.
    missing_required_header,
]
CHECKS = [
    *CONFORMANCE_CHECKS,
    # A request that breaks the schema is refused (4xx); one that keeps it is not refused as malformed.
    invalid_data_is_refused,
    valid_data_is_accepted,
    # The coverage phase sends methods a path does not declare: 405, naming those it does in Allow.
    unsupported_method,
    allow_header_conformance,
]
# The guide's single route `/galleries` is one path whose parameters and body depend on `?action=`
# (OpenAPI 3.0 cannot make a query parameter required for one value of another), and each action is
# answered by its own view, whose Allow names that view's methods: only the conformance checks apply.
GUIDE_CHECKS = CONFORMANCE_CHECKS
# use_after_free and ensure_resource_availability judge a sequence (a DELETE, then a read; a create, then a
# read), which schemathesis records only in a stateful run: test_sequences_of_calls_keep_the_contract.
STATEFUL_CHECKS = [*CONFORMANCE_CHECKS, use_after_free, ensure_resource_availability]
# Left out, each meaningless in this harness:
# - object_level_authorization: needs two identities owning objects; the API has one curator role, and
#   a visitor's only object (a rating) is guarded by its token, which tests/ratings prove directly.
# - max_response_time: moto's and the test machine's speed say nothing of production's.


# ---------------------------------------------------------------- seeded data, and where its ids go
GALLERY_ID = "fuzz-gallery"
RATER_ID = "fuzz-visitor"
PHOTO_PLACEHOLDERS = ("fuzz-photo-1", "fuzz-photo-2")
TOKEN_PLACEHOLDER = "fuzz-visitor-token"
EXAMPLES = {
    "galleryId": [GALLERY_ID],
    "id": [GALLERY_ID],  # the guide's ?id=
    "resumeFrom": [GALLERY_ID],
    "photoId": list(PHOTO_PLACEHOLDERS),
    "coverPhotoId": list(PHOTO_PLACEHOLDERS),
    "userId": [RATER_ID],
    "x-visitor-token": [TOKEN_PLACEHOLDER],
}


def _with_seeded_examples(raw: dict) -> dict:
    """The schema with the seeded ids as examples of the parameters and body fields that name them."""
    raw = copy.deepcopy(raw)
    for item in raw["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                values = EXAMPLES.get(parameter["name"]) or EXAMPLES.get(parameter["name"].lower())
                if values and parameter["in"] in ("path", "query", "header"):
                    parameter["examples"] = {f"seeded{n}": {"value": value} for n, value in enumerate(values)}
    for component in raw.get("components", {}).get("schemas", {}).values():
        for name, field in component.get("properties", {}).items():
            if name in EXAMPLES and field.get("type") == "string" and not field.get("readOnly"):
                field["example"] = EXAMPLES[name][0]
    return raw


def _schemathesis_schema(raw: dict):
    loaded = schemathesis.openapi.from_dict(_with_seeded_examples(raw))
    loaded.app = application
    # Schemathesis would also draw literals found in the app's modules; which modules are loaded when it
    # looks depends on what ran before (see ``no_code_constants``): off, for the same cases on every run.
    loaded.config.analysis.constants.enabled = False
    loaded.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
        # The visitor sends no credential at all (not a made-up one), the curator a real key.
        with_security_parameters=False,
    )
    return loaded


RAW_SCHEMA = load(SCHEMA_FILE)
SCHEMA_SOURCE = "docs/openapi.yaml"
schema = _schemathesis_schema(RAW_SCHEMA)


def seed(curator: APIClient, *, with_photos: bool = True) -> dict:
    """A public gallery with (unless told otherwise) two tiny photos, the first rated by ``fuzz-visitor``;
    returns what each placeholder stands for."""
    gallery_create(name="Fuzz", continent="Europe", country="Italy", years=[2023], gallery_id=GALLERY_ID)
    if not with_photos:
        return {}
    files = [SimpleUploadedFile(f"p{n}.jpg", jpeg_bytes(64, 48), "image/jpeg") for n in range(2)]
    answer = curator.post(f"/api/galleries/{GALLERY_ID}/photos", {"photos": files}, format="multipart")
    assert answer.status_code == 201, answer.content
    photo_ids = [photo["photoId"] for photo in answer.json()["photos"]]
    rated = APIClient().put(f"/api/photos/{photo_ids[0]}/ratings/{RATER_ID}", {"rating": 4}, format="json")
    assert rated.status_code in (200, 201), rated.content
    token = rated.json()["visitorToken"]
    return {**dict(zip(PHOTO_PLACEHOLDERS, photo_ids, strict=True)), TOKEN_PLACEHOLDER: token}


@pytest.fixture
def seeded(aws, curator):
    return seed(curator)


@pytest.fixture(autouse=True)
def no_code_constants(monkeypatch):
    """Hypothesis mixes into some of its draws literals it finds in the project's modules loaded so far
    (``_get_local_constants``); which are loaded depends on what ran before on the worker, so the same
    test would draw differently from run to run. None here; its own fixed constants stay."""
    monkeypatch.setattr(providers, "_get_local_constants", lambda: providers.Constants())
    providers.CONSTANTS_CACHE.cache.clear()  # filled with whatever the last test found
    yield
    providers.CONSTANTS_CACHE.cache.clear()


@pytest.fixture
def unthrottled(settings):
    """Every throttle of the API far above what a run sends, so the fuzzer reaches the code (a 429 is a
    documented answer, but one that hides everything behind it)."""
    rest = copy.deepcopy(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rest["DEFAULT_THROTTLE_RATES"], "100000/min")
    settings.REST_FRAMEWORK = rest
    settings.RATING_NEW_VISITORS_PER_ADDRESS_PER_DAY = 100000


@pytest.fixture
def tally(request, record_property):
    """What the test tried, recorded for tests/tiers.py's summary line (even when it fails)."""
    node = request.node
    counts = {"schema": SCHEMA_SOURCE, "operation": node.operation_label}
    counts["credential"] = node.callspec.params["credential"]
    counts.update(cases=0, server_errors=0)
    yield counts
    record_property("schemathesis", counts)


def _fresh_idempotency_key(case) -> dict:
    """A new ``Idempotency-Key`` for a case that sends one the schema allows, as a client sends one key per
    write: the generator repeats its values ("0"), and the same key for another request is refused by
    design (422), which would be read as a valid request rejected. Malformed keys are sent as generated."""
    sent = (case.headers or {}).get("Idempotency-Key")
    if isinstance(sent, str) and re.fullmatch(r"[!-~]{16,255}", sent):
        return {"Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    return {}


def _swap_placeholders(case, real: dict) -> dict:
    """Each placeholder among the top-level values of the case's parts replaced by what it stands for
    (assigned, not changed in place, so schemathesis re-judges whether the part still breaks the schema).
    Returns the parts as they were: the examples and coverage phases' cases are objects made once, at
    collection, and shared by the visitor's and the curator's test, so each test puts them back."""
    originals = {}
    for part in ("path_parameters", "query", "headers", "body"):
        value = getattr(case, part)
        if isinstance(value, Mapping) and any(
            isinstance(item, str) and item in real for item in value.values()
        ):
            originals[part] = value
            swapped = {
                name: real.get(item, item) if isinstance(item, str) else item for name, item in value.items()
            }
            setattr(case, part, type(value)(swapped))
    return originals


@pytest.mark.parametrize("credential", ["visitor", "curator"])
@schema.parametrize()
@settings(
    derandomize=True,
    max_examples=MAX_EXAMPLES,
    database=None,
    deadline=None,
    suppress_health_check=SUPPRESSED_HEALTH_CHECKS,
)
def test_every_answer_keeps_the_contract(case, credential, seeded, curator_key, unthrottled, tally):
    tally["cases"] += 1
    originals = _swap_placeholders(case, seeded)
    headers = {"Authorization": f"Bearer {curator_key}"} if credential == "curator" else {}
    headers.update(_fresh_idempotency_key(case))
    try:
        response = case.call(headers=headers)
        tally["server_errors"] += response.status_code >= 500
        # As case.call_and_validate does, with the headers sent: checks that re-send (ignored_auth) need them.
        checks = CHECKS if case.operation.path.startswith("/api/") else GUIDE_CHECKS
        case.validate_response(
            response, checks=checks, headers=headers, transport_kwargs={"headers": headers}
        )
    finally:
        for part, value in originals.items():
            setattr(case, part, value)


STATEFUL_SCENARIOS = 20
STATEFUL_STEPS = 6


def test_sequences_of_calls_keep_the_contract(aws, unthrottled, record_property):
    """Schemathesis's stateful run: sequences a curator makes by following the links it infers from the
    answers (a created gallery's id into its reads, updates, uploads and delete), each answer checked as
    above, and the sequence as a whole: a deleted resource is 404 after, a created one readable. Each
    sequence starts on fresh tables and bucket with the seeded gallery, so each runs the same whatever ran
    before (hypothesis requires it of a state machine: the same draws must meet the same answers)."""
    counts = {"schema": SCHEMA_SOURCE, "operation": None, "credential": "curator"}
    counts.update(cases=0, server_errors=0)

    # Over the /api/ routes only: schemathesis follows a resource by its path, and the guide's route names
    # it in ?id= (a gallery deleted there would look "created, then missing" to ensure_resource_availability).
    # A schema object of its own: the one the tests above share keeps state between them that would
    # change this run's draws with whichever tests ran before it on the worker.
    api_only = _schemathesis_schema(RAW_SCHEMA).include(path_regex=r"^/api/")

    class Sequences(api_only.as_state_machine()):
        def setup(self):
            mock_aws().reset()  # every moto backend emptied, inside the aws fixture's mock
            resources_ensure()
            key, _ = curator_key_create(label="fuzz")
            self.headers = {"Authorization": f"Bearer {key}"}
            curator = APIClient()
            curator.credentials(HTTP_AUTHORIZATION=self.headers["Authorization"])
            # The gallery only (a placeholder photo id is then just an unknown id): photos cost ~0.3 s a
            # sequence to make, and a sequence makes its own data.
            seed(curator, with_photos=False)

        def get_call_kwargs(self, case):
            return {"headers": {**self.headers, **_fresh_idempotency_key(case)}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            counts["cases"] += 1
            counts["server_errors"] += response.status_code >= 500
            case.validate_response(
                response,
                checks=STATEFUL_CHECKS,
                headers=self.headers,
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    try:
        Sequences.run(
            settings=settings(
                derandomize=True,
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                database=None,
                deadline=None,
                suppress_health_check=SUPPRESSED_HEALTH_CHECKS,
            )
        )
    finally:
        record_property("schemathesis", counts)
