"""Commands and Lambda events answer a domain error with its sentence, mapped in one place."""

import pytest
from django.core.management import CommandError, call_command

from core.entrypoints import error_body, lambda_event
from core.errors import NotFound
from scans import events


def test_a_command_ends_with_the_domain_errors_sentence(aws):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("update_galleries_metadata", "--gallery-id", "no-such-gallery")


def test_a_lambda_event_answers_the_error_body_instead_of_failing(aws):
    answer = events.update_galleries_metadata({"galleryId": "no-such-gallery"}, None)
    assert answer["code"] == "not_found" and "does not exist" in answer["error"] and answer["details"] == {}


def test_the_event_wrapper_passes_results_and_maps_only_domain_errors():
    @lambda_event
    def handler(event, context):
        if event == "missing":
            raise NotFound("Nothing here.")
        if event == "bug":
            raise RuntimeError("a bug stays a failed invocation")
        return {"ok": True}

    assert handler("fine") == {"ok": True}
    assert handler("missing") == error_body(NotFound("Nothing here."))
    with pytest.raises(RuntimeError):
        handler("bug")
