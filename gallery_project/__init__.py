"""The photography gallery backend: Django project package."""
