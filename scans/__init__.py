"""Scans: bring the tables in line with the bucket and with each other (photos scan, galleries scan)."""
