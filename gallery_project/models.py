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
