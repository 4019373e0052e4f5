"""Read-your-writes on the suite's own DynamoDB Local and s3rver, with the byPhotoId index lagging as it may
on AWS (``tests.index_lag``): right after an upload answers, the photo is rated and read by its id alone,
and a photo deleted during the lag is 404 like a missing one; the store stays consistent. The moto-tier
cases, every route and a restore, are in ``tests/photos/test_read_your_writes.py``."""

from core.records import ServiceRecord, record_key
from photos import recent
from tests.faults.api import gallery_create, photo_rate, photos_upload
from tests.faults.invariants import assert_store_consistent
from tests.index_lag import index_lag

LAG_SECONDS = 600.0  # every write of the block stays unseen by the index


def test_an_upload_is_rated_and_read_by_id_at_once_and_a_delete_is_404_during_the_lag(curator, client):
    gallery_id = gallery_create(curator)
    listed = photos_upload(curator, gallery_id).json()["photos"][0]["photoId"]
    with index_lag(LAG_SECONDS) as lag:
        response = photos_upload(curator, gallery_id, 2)
        assert response.status_code == 201, response.content
        fresh, other = (photo["photoId"] for photo in response.json()["photos"])
        # The commit's transaction wrote where the photo lives (an update that creates the record).
        record = ServiceRecord.get(record_key(recent.KIND, fresh), consistent_read=True)
        assert record.data.as_dict() == {"galleryId": gallery_id}

        rated = photo_rate(client, fresh, "v1", 5)
        assert rated.status_code == 201, rated.content
        read = client.get(f"/api/photos/{fresh}/ratings/v1")
        assert read.status_code == 200 and read.json()["rating"] == 5
        assert client.get(f"/api/photos/{fresh}/ratings").json()["ratingCount"] == 1

        missing = client.get(f"/api/photos/{'f' * 32}/ratings").json()
        for photo_id in (listed, other):  # one the index lists, one it has not seen yet
            assert curator.delete(f"/api/galleries/{gallery_id}/photos/{photo_id}").status_code == 200
            gone = client.get(f"/api/photos/{photo_id}/ratings")
            assert gone.status_code == 404 and gallery_id not in gone.content.decode()
            assert gone.json() == {**missing, "error": missing["error"].replace("f" * 32, photo_id)}
            assert photo_rate(client, photo_id, "v2", 3).status_code == 404
        assert lag.stale >= 4
    assert_store_consistent()
