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


def additions(actions) -> dict[str, int]:
    """What each ADD action adds, by attribute path (e.g. {"ratingHistogram.4": 1, "ratingSum": 4})."""
    names: dict[str, str] = {}
    values: dict[str, dict] = {}
    added = {}
    for action in actions:
        path, placeholder = action.serialize(names, values).split(" ")
        by_placeholder = {token: name for name, token in names.items()}
        attribute = ".".join(by_placeholder[token] for token in path.split("."))
        added[attribute] = int(values[placeholder]["N"])
    return added


def test_a_rating_or_a_withdrawal_moves_the_aggregate_by_its_difference():
    assert aggregate.change_actions(GalleryPhoto, new=4, old=4) == []
    assert additions(aggregate.change_actions(GalleryPhoto, new=4, old=None)) == {
        "ratingHistogram.4": 1,
        "ratingSum": 4,
        "ratingCount": 1,
    }
    assert additions(aggregate.change_actions(GalleryPhoto, new=2, old=5)) == {
        "ratingHistogram.2": 1,
        "ratingSum": -3,
        "ratingHistogram.5": -1,
    }
    assert additions(aggregate.change_actions(GalleryPhoto, new=None, old=3)) == {
        "ratingHistogram.3": -1,
        "ratingSum": -3,
        "ratingCount": -1,
    }
    assert aggregate.change_actions(GalleryPhoto, new=None, old=None) == []
