"""Curators' browser sessions kept on the server, as ServiceRecords of kind ``session`` (SESSION_ENGINE).

The cookie holds only Django's random session key (32 characters of ``[a-z0-9]``, about 165 bits) and
nothing of the curator key. What the session remembers (the key's hash, ``gallery_project.auth``) is in
the record, encoded and signed as Django's database backend stores it. The record's id is the SHA-256
of the session key, so a dump of the table holds no cookie that could be replayed. A plain hash is
enough: 165 random bits leave nothing to brute-force, and no secret in it means a rotation of
``SECRET_KEY`` does not end every session by itself (the data's signature accepts the fallbacks).

A session lives ``SESSION_COOKIE_AGE`` (``CURATOR_SESSION_SECONDS``) from its last save, which is the
sign-in: nothing saves it later (``SESSION_SAVE_EVERY_REQUEST`` is off), so it ends that long after
sign-in however busy it is. The record's ``expiresAt`` is that moment, and an expired record is absent
(``core.records``) whether or not DynamoDB has deleted it yet. Signing out deletes the record at once:
a copied cookie then finds nothing and its requests are a visitor's. A cookie whose record is gone is
never revived: the next save makes a new key. A save that finds its record deleted meanwhile (signed out
in another tab) does not write it again; Django answers that request 400 (``SessionInterrupted``).

A session does not outlive its curator key: every request of a session reads the key again
(``gallery_project.auth.CuratorSessionAuthentication``), so a revoked key's sessions stop at once.
"""

import hashlib
from datetime import timedelta
from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, SessionBase, UpdateError
from django.utils.crypto import get_random_string

from core.conditional import applied
from core.records import ServiceRecord, record_drop, record_get, record_take, record_update

KIND = "session"
OWNER = "browser"  # the holder is whoever has the cookie; the record needs no other owner
STATUS = "active"
DATA = "session"  # the record's data: Django's encoded (signed) session dict under this name


def session_record_id(session_key: str) -> str:
    """The record id of a session: the SHA-256 of its key, never the key itself."""
    return hashlib.sha256(session_key.encode("utf-8")).hexdigest()


class SessionStore(SessionBase):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._record: ServiceRecord | None = None  # the record this session was loaded from or written to

    def exists(self, session_key: str) -> bool:
        return record_get(KIND, session_record_id(session_key)) is not None

    def load(self) -> dict[str, Any]:
        record = record_get(KIND, session_record_id(self.session_key)) if self.session_key else None
        if record is None:
            # Unknown, signed out or expired: forget the cookie's key, so a save makes a new one.
            self._session_key = None
            return {}
        self._record = record
        return self.decode(record.data.as_dict().get(DATA, ""))

    def create(self) -> None:
        while True:
            # Django's own key (its _get_new_session_key reads first; the conditional take below is
            # that check already, so a sign-in costs no read for it).
            self._session_key = get_random_string(32, VALID_KEY_CHARS)
            try:
                self.save(must_create=True)
            except CreateError:
                continue  # a live session has this key (never seen in practice with 165 bits)
            self.modified = True
            return

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        record_id = session_record_id(self.session_key)
        # A new key has nothing stored to load (django-stubs omit SessionBase's private _get_session).
        session = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        data = {DATA: self.encode(session)}
        lifetime = timedelta(seconds=self.get_expiry_age())
        if must_create:
            taken = record_take(KIND, record_id, owner=OWNER, status=STATUS, lifetime=lifetime, data=data)
            if taken is None:
                raise CreateError
            self._record = taken
            return
        record = self._record or record_get(KIND, record_id)
        # Conditional on the record still being there: a session signed out meanwhile stays ended.
        if record is None or not applied(
            lambda: record_update(record, status=STATUS, lifetime=lifetime, data=data)
        ):
            raise UpdateError

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        record_drop(KIND, session_record_id(session_key))
        if session_key == self.session_key:
            self._record = None

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: DynamoDB's TTL deletes expired records, and readers skip them until then."""
