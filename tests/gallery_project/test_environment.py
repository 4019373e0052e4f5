"""Settings from the environment: django-environ, with blanks as unset and booleans that must be words."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from gallery_project.environment import Env

ROOT = Path(__file__).resolve().parents[2]


def test_a_blank_variable_keeps_the_default(monkeypatch):
    monkeypatch.setenv("X_SECURE", "")
    monkeypatch.setenv("X_WORKERS", "")
    env = Env()
    assert env.bool("X_SECURE", default=True) is True
    assert env.int("X_WORKERS", default=4) == 4


def test_booleans_are_words_and_a_typo_stops_the_start(monkeypatch):
    env = Env()
    for word, value in (("true", True), ("On", True), ("0", False), ("no", False)):
        monkeypatch.setenv("X_FLAG", word)
        assert env.bool("X_FLAG", default=not value) is value
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be true or false"):
        env.bool("X_FLAG", default=True)


def test_set_values_are_read_as_django_environ_reads_them(monkeypatch):
    monkeypatch.setenv("X_SIZE", "25")
    monkeypatch.setenv("X_NAME", "GalleryPhotos")
    env = Env()
    assert (
        env.int("X_SIZE", default=1),
        env.str("X_NAME", default="x"),
        env.str("X_UNSET", default="d"),
    ) == (
        25,
        "GalleryPhotos",
        "d",
    )


def test_a_blank_env_file_setting_reads_no_file(tmp_path):
    """GALLERY_ENV_FILE= (as the tests and the type check set it) must not fall back to .local/env."""
    env_file = tmp_path / "env"
    env_file.write_text("AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9\n")
    code = (
        "import os, gallery_project.settings as s; "
        "print(repr(s._ENV_FILE), os.environ.get('AWS_ENDPOINT_URL_DYNAMODB', 'unset'))"
    )
    base = {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL_DYNAMODB"}
    base |= {"DJANGO_SECRET_KEY": "x", "PYTHONPATH": str(ROOT)}

    def read(value: str) -> str:
        env = {**base, "GALLERY_ENV_FILE": value}
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        ).stdout.strip()

    assert read(str(env_file)) == f"{str(env_file)!r} http://127.0.0.1:9"
    assert read("") == "'' unset"


def test_secret_key_fallbacks_are_read_as_is_comma_separated():
    code = "import gallery_project.settings as s; print(s.SECRET_KEY_FALLBACKS)"
    env = {
        **os.environ,
        "GALLERY_ENV_FILE": "",
        "DJANGO_SECRET_KEY": "new",
        "DJANGO_SECRET_KEY_FALLBACKS": "$old-one,second",
        "PYTHONPATH": str(ROOT),
    }
    answer = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert answer.stdout.strip() == "['$old-one', 'second']", answer.stderr
