"""PynamoDB model of the CuratorKeys table: hashes of curator keys, never the keys themselves."""

from django.conf import settings
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from core.aws import ClientLimits


class CuratorKey(Model):
    class Meta(ClientLimits):
        table_name = settings.CURATOR_KEYS_TABLE
        billing_mode = "PAY_PER_REQUEST"

    key_hash = UnicodeAttribute(hash_key=True, attr_name="keyHash")
    key_id = UnicodeAttribute(attr_name="keyId")
    label = UnicodeAttribute(default="")
    created_at = UnicodeAttribute(attr_name="createdAt")
    # When a request last authenticated with it, to the hour (written at most once an hour).
    last_used_at = UnicodeAttribute(null=True, attr_name="lastUsedAt")
    # Set when revoked: the key stops working at once and stays listed as revoked.
    revoked_at = UnicodeAttribute(null=True, attr_name="revokedAt")
