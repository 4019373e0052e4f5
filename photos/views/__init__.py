"""Photo endpoints by resource: photos, galleries read and deleted with their photos, ratings of photos."""
