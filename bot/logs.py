"""Logging that is safe at every level: tokens and secrets are redacted wherever they
appear, and what other libraries log at DEBUG (whole updates, request bodies: a
reporter's id beside their receipt code) is withheld. Our own loggers name no user."""
from __future__ import annotations

import logging
import re
import sys

from bot.config import Config

# Libraries that log whole platform updates or HTTP bodies at DEBUG.
TALKATIVE = ("telegram", "httpx", "httpcore", "hpack", "wechatpy", "urllib3", "apscheduler",
             "uvicorn", "asyncio", "aiosqlite", "sqlalchemy")
WITHHELD = "[details withheld: a library's debug output may carry user data]"
PATTERNS = (
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),  # a Telegram bot token, also inside URLs
    re.compile(r"(access_token|secret|corpsecret|token)=[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password in a URL
)


def secrets_of(config: Config) -> list[str]:
    from sqlalchemy.engine import make_url

    found = [config.telegram.token, config.telegram.webhook_secret, config.wecom.secret,
             config.wecom.token, config.wecom.encoding_aes_key, config.security.secret_key]
    for url in (config.database.url, config.redis_url):
        try:
            password = make_url(url).password if url else None
        except Exception:  # not a URL SQLAlchemy reads: nothing of it to hide
            password = None
        found.append(password or "")
    return [s for s in found if s and len(s) >= 4]


class Redact(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and record.name.split(".")[0] in TALKATIVE:
            record.msg, record.args, record.exc_info, record.exc_text = WITHHELD, None, None, None
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self.clean(text)
        if redacted != text:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True

    def clean(self, text: str) -> str:
        from storage.db import hide_passwords

        text = hide_passwords(text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        for pattern in PATTERNS:
            text = pattern.sub(lambda m: m.group(0).split("=")[0] + "=[redacted]"
                               if "=" in m.group(0) else "[redacted]", text)
        return text


def setup(config: Config | None, level: str | None = None) -> None:
    """Root logging to stderr at the level asked (--log-level, else [log] level), every
    record through Redact."""
    level = level or (config.log.level if config else "INFO")
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    redact = Redact(secrets_of(config) if config else [])
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, Redact)]:
            handler.removeFilter(old)
        handler.addFilter(redact)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO, and Bot API and WeCom URLs carry secrets.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # APScheduler says "Running job … executed successfully" at INFO for every run (the
    # alert check runs each minute); its warnings (a missed or failed run) still show.
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.WARNING, root.level))
