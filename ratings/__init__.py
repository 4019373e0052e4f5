"""Ratings: visitors' 1-5 stars per photo and the exact aggregates on the photo item."""
