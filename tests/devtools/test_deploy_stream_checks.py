"""`make deploy`'s checks of the rating stream's routing: a stage that streams hot photos' ratings must
route PhotoRatings' stream to the aggregator, and after `zappa update` every stream mapping feeding the
function must be routed and on (a batch Zappa's handler finds no function for is dropped as done)."""

import pytest

from devtools import deploy
from gallery_project import resources

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/PhotoRatings/stream/2026-11-30T00:00:00.000"
OLD_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/PhotoRatings/stream/2026-01-01T00:00:00.000"


def stage(*, streaming: bool, routed: list[str]) -> dict:
    return {
        "environment_variables": {"RATING_STREAM_AGGREGATION": "true" if streaming else "false"},
        "events": [
            {"function": "scans.events.update_gallery_photos", "expression": "rate(6 hours)"},
            {"function": "scans.events.photo_object_created", "event_source": {"arn": "arn:aws:s3:::bucket"}},
            *[resources.zappa_stream_event(arn) for arn in routed],
        ],
    }


class Lambda:
    """list_event_source_mappings as Lambda answers it, a page of one mapping at a time."""

    def __init__(self, *mappings: dict):
        self.mappings = list(mappings)

    def list_event_source_mappings(self, FunctionName: str, Marker: str = "0") -> dict:
        index = int(Marker)
        page = {"EventSourceMappings": self.mappings[index : index + 1]}
        if index + 1 < len(self.mappings):
            page["NextMarker"] = str(index + 1)
        return page


def mapping(arn: str, state: str = "Enabled") -> dict:
    return {"UUID": f"uuid-{state}", "EventSourceArn": arn, "State": state}


def test_the_handler_named_is_the_one_resources_routes_to():
    assert deploy.STREAM_HANDLER == resources.STREAM_HANDLER


def test_a_stage_streaming_ratings_without_the_streams_entry_is_not_deployed():
    with pytest.raises(SystemExit, match="route no PhotoRatings stream"):
        deploy.stream_routing_check(stage(streaming=True, routed=[]))
    deploy.stream_routing_check(stage(streaming=True, routed=[ARN]))
    deploy.stream_routing_check(stage(streaming=False, routed=[]))  # nothing streamed: nothing to lose


def test_after_the_update_every_stream_feeding_the_function_is_routed_and_on():
    routed = stage(streaming=True, routed=[ARN])
    assert deploy.stream_mappings_check(Lambda(mapping(ARN), mapping("arn:aws:sqs:q")), "fn", routed) == []
    assert deploy.stream_mappings_check(Lambda(mapping(ARN, "Enabling")), "fn", routed) == []
    [off] = deploy.stream_mappings_check(Lambda(mapping(ARN, "Disabled")), "fn", routed)
    assert "its mapping is Disabled: run `make deploy` again" in off
    [unrouted] = deploy.stream_mappings_check(Lambda(mapping(ARN), mapping(OLD_ARN)), "fn", routed)
    assert unrouted.startswith(f"{OLD_ARN} feeds fn but the stage's events do not route it")
