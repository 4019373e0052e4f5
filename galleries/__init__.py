"""Galleries: the curated collections photos belong to."""
