"""What keeps a violation report anonymous: receipts stored as slow hashes, senders
counted under a daily key, times kept to the hour."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from bot.core.i18n import N_
from handlers import codes
from storage import violations as store
from storage.models import ViolationStatus

RECEIPT_LENGTH = 12
KINDS = (N_("未戴安全帽"), N_("未系安全带"), N_("违章作业"), N_("违章指挥"), N_("酒后作业"), N_("其他"))
STATUS = {ViolationStatus.new: N_("待处理"), ViolationStatus.confirmed: N_("属实，已处理"),
          ViolationStatus.unfounded: N_("经核查不属实"), ViolationStatus.hazard: N_("已转为隐患整改")}
_SALT = b"redshield/receipt/v1"


def receipt_hash(normalized: str) -> str:
    """Slow on purpose (scrypt): a stolen table does not give the codes back."""
    return hashlib.scrypt(normalized.encode(), salt=_SALT, n=2 ** 14, r=8, p=1, dklen=32).hex()


def new_receipt() -> tuple[str, str]:
    """(code to show once, its hash to store)."""
    code = codes.new_code(RECEIPT_LENGTH)
    return code, receipt_hash(codes.normalize(code, RECEIPT_LENGTH))


def hash_of_typed(text: str) -> str:
    """The hash of whatever was typed; malformed input costs the same time as a real code."""
    normalized = codes.normalize(text, RECEIPT_LENGTH)
    return receipt_hash(normalized or "MALFORMED-" + text[:40])


def to_the_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def sender_key(session, platform: str, user_id: str, day: dt.date) -> str:
    """A keyed hash of the account under the day's key, for counting, never for finding."""
    secret = await store.daily_secret(session, day)
    return hmac.new(secret.encode(), f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()
