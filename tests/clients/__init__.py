"""Tests of the API's clients: the JavaScript client in clients/js, end to end and its generated types."""
