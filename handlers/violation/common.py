"""What keeps a violation report anonymous: receipts stored as slow hashes, senders
counted under keyed pseudonyms in the account-free store, times kept to the hour."""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

from bot.core.i18n import N_
from handlers import codes
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


# ---- counting senders without knowing them: keys only this deployment can compute,
# counts only in the account-free store (never in the database)

DAY = 86_400


async def reports_today(ctx) -> int:
    count = await ctx.anonymity.store.get(_reports_key(ctx))
    return int(count or 0)


async def count_report(ctx) -> None:
    await ctx.anonymity.store.incr(_reports_key(ctx), ttl=2 * DAY)


def _reports_key(ctx) -> str:
    day = ctx.now.astimezone(ctx.config.tz).date().isoformat()
    return "reports:" + ctx.anonymity.pseudonym("reports", day, ctx.msg.platform, ctx.msg.user_id)


def _track_key(ctx) -> str:
    return "track:" + ctx.anonymity.pseudonym("track", ctx.msg.platform, ctx.msg.user_id)


async def track_locked(ctx) -> bool:
    limit = ctx.config.invites.max_failed_attempts
    return int(await ctx.anonymity.store.get(_track_key(ctx)) or 0) >= limit


async def track_failed(ctx) -> None:
    """Failures count for the whole window and are not wiped by a right code: four wrong
    and one's own, again and again, still locks."""
    window = ctx.config.invites.attempt_window_minutes * 60
    await ctx.anonymity.store.incr(_track_key(ctx), ttl=window)


async def receipt_of_typed(text: str) -> str:
    """scrypt costs ~40 ms of CPU: off the event loop."""
    return await asyncio.to_thread(hash_of_typed, text)
