"""The scans' answer and body as the API describes them (scans.serializers): in step with the summary."""

import pytest

from scans.serializers import REPORTED_FAILURES, ScanFailureSerializer, ScanSummarySerializer
from scans.summary import MAX_REPORTED_FAILURES, ScanSummary


def test_the_described_answer_has_exactly_the_summarys_keys():
    summary = ScanSummary(scan="gallery_photos", gallery_id="g", resume_from="h", complete=False)
    summary.fail("Storage failed: x", galleryId="g", key="galleries/g/a.jpg")
    answer = summary.as_dict()
    assert set(ScanSummarySerializer().fields) == set(answer)
    assert set(answer["failures"][0]) <= set(ScanFailureSerializer().fields)
    assert REPORTED_FAILURES == MAX_REPORTED_FAILURES


@pytest.mark.parametrize("body", ["null", "false", "0", "[]", '"everything"'])
def test_a_body_that_is_no_object_is_refused_not_a_whole_scan(aws, curator, body):
    for url in ("/api/scans/gallery-photos", "/api/scans/galleries-metadata"):
        response = curator.post(url, body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"error", "details"}


def test_no_body_or_an_empty_object_scans_with_the_defaults(aws, curator):
    assert curator.post("/api/scans/galleries-metadata").json()["dryRun"] is False
    empty = curator.post("/api/scans/galleries-metadata", {}, format="json")
    assert empty.status_code == 200 and empty.json()["galleryId"] is None
