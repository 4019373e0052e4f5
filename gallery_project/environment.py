"""django-environ with two rules this service keeps: an empty variable counts as unset, and a boolean must
be a word it knows (a typo such as ``DJANGO_SECURE_COOKIES=ture`` stops the start instead of reading as
false; a blank ``DJANGO_SECURE_COOKIES=`` keeps the secure default instead of turning it off)."""

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class Env(environ.Env):
    def get_value(self, var_name, cast=None, default=environ.Env.NOTSET, parse_default=False):
        if self.ENVIRON.get(var_name) == "" and default is not self.NOTSET:
            return default
        return super().get_value(var_name, cast=cast, default=default, parse_default=parse_default)

    def bool(self, var, default=environ.Env.NOTSET):
        word = self.ENVIRON.get(var, "").strip().lower()
        if word and word not in TRUE_WORDS | FALSE_WORDS:
            raise ImproperlyConfigured(f"{var} must be true or false, not {self.ENVIRON[var]!r}")
        return super().bool(var, default=default)
