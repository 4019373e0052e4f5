"""The aggregate's derived values and changes, owned by ratings.aggregate (pure: no table needed)."""

from types import SimpleNamespace

from photos.models import GalleryPhoto
from ratings import aggregate


def item(count=0, total=0, histogram=None):
    return SimpleNamespace(rating_count=count, rating_sum=total, rating_histogram=histogram)


def test_average_and_histogram_as_every_answer_shows_them():
    assert aggregate.average(item()) is None
    assert aggregate.average(item(3, 11)) == 3.67
    assert aggregate.histogram(item(histogram=None)) == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    stored = SimpleNamespace(as_dict=lambda: {"4": 2, "5": 1})
    assert aggregate.histogram(item(histogram=stored)) == {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}
    assert not aggregate.is_ready(item(histogram=stored))
    full = SimpleNamespace(as_dict=aggregate.empty_histogram)
    assert aggregate.is_ready(item(histogram=full))


def test_only_whole_stars_from_one_to_five_count():
    assert [aggregate.counted_value(value) for value in (None, 0, 1, 5, 6, 2.5)] == [
        None,
        None,
        1,
        5,
        None,
        None,
    ]


def test_a_rating_moves_the_aggregate_by_its_difference():
    def paths(actions):
        return sorted(action.serialize({}, {}) for action in actions)

    assert aggregate.change_actions(GalleryPhoto, new=4, old=4) == []
    first = aggregate.change_actions(GalleryPhoto, new=4, old=None)
    assert len(first) == 3  # bucket 4 +1, sum +4, count +1
    replaced = aggregate.change_actions(GalleryPhoto, new=2, old=5)
    assert len(replaced) == 3 and paths(replaced) != paths(first)  # bucket 2 +1, sum -3, bucket 5 -1
