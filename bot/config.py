"""Configuration loading for the Red Shield bot.

Values come from three layers, later ones winning:

1. built-in defaults (the dataclass defaults below),
2. a TOML file (``config.toml`` by default),
3. environment variables named ``REDSHIELD_<SECTION>_<KEY>``.

Everything is validated before a :class:`Config` is built, and every problem
found is reported at once in a single :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

__all__ = [
    "Config",
    "ConfigError",
    "DailyTime",
    "DatabaseConfig",
    "DialogConfig",
    "InvitesConfig",
    "LocaleConfig",
    "MediaConfig",
    "PracticeConfig",
    "ScheduleConfig",
    "ServerConfig",
    "TelegramConfig",
    "WecomConfig",
    "WeeklyTime",
    "default_config",
    "load_config",
]

logger = logging.getLogger("redshield.config")

DEFAULT_PATH = "config.toml"
ENV_PREFIX = "REDSHIELD_"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOCALES = ("zh_CN", "en")
TELEGRAM_MODES = ("polling", "webhook")

# Accepted database URL prefixes, mapped to what the loaded Config contains.
# Plain postgres URLs are rewritten so SQLAlchemy picks the async driver.
_DATABASE_PREFIXES = {
    "sqlite+aiosqlite://": "sqlite+aiosqlite://",
    "postgresql+asyncpg://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
    "postgres://": "postgresql+asyncpg://",
}

# Telegram's rule for setWebhook's secret_token.
_WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# [0-9] rather than \d so that full-width or other Unicode digits are rejected.
_HHMM_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_INT_RE = re.compile(r"[+-]?[0-9]+")

_WEEKLY_FORMAT = '"<day> HH:MM" with day one of ' + ", ".join(WEEKDAYS)
_DAILY_FORMAT = '"HH:MM" (00:00 to 23:59)'


class ConfigError(Exception):
    """The configuration is unusable; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str] | tuple[str, ...] | str) -> None:
        self.errors: tuple[str, ...] = (errors,) if isinstance(errors, str) else tuple(errors)
        super().__init__("\n".join(self.errors))


# --------------------------------------------------------------------------
# Parsed schedule times
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyTime:
    """A time of day, e.g. ``03:30``."""

    hour: int
    minute: int

    def to_time(self) -> dt_time:
        return dt_time(self.hour, self.minute)

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True)
class WeeklyTime:
    """A weekday plus time of day, e.g. ``thu 18:00``; weekday 0 is Monday."""

    weekday: int
    hour: int
    minute: int

    def to_time(self) -> dt_time:
        return dt_time(self.hour, self.minute)

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.hour:02d}:{self.minute:02d}"


def parse_daily_time(text: str) -> DailyTime | None:
    """Parse ``HH:MM``; return None when the text is not a valid time."""
    match = _HHMM_RE.fullmatch(text.strip())
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        return None
    return DailyTime(hour, minute)


def parse_weekly_time(text: str) -> WeeklyTime | None:
    """Parse ``<day> HH:MM`` (day case-insensitive); None when invalid."""
    parts = text.split()
    if len(parts) != 2 or parts[0].lower() not in WEEKDAYS:
        return None
    daily = parse_daily_time(parts[1])
    if daily is None:
        return None
    return WeeklyTime(WEEKDAYS.index(parts[0].lower()), daily.hour, daily.minute)


# --------------------------------------------------------------------------
# Sections. Field names are the TOML keys; defaults are the built-in defaults.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///data/redshield.db"
    schema: str = ""  # PostgreSQL only: the schema the tables live in ("" = the default)


@dataclass(frozen=True)
class MediaConfig:
    dir: str = "data/media"
    max_photo_mb: int = 20


@dataclass(frozen=True)
class LocaleConfig:
    default: str = "zh_CN"
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    mode: str = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = ""


@dataclass(frozen=True)
class WecomConfig:
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    redis_url: str = ""
    numbered_choices: bool = False


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class DialogConfig:
    timeout_minutes: int = 30


@dataclass(frozen=True)
class InvitesConfig:
    ttl_days: int = 14
    max_failed_attempts: int = 5
    attempt_window_minutes: int = 15


@dataclass(frozen=True)
class PracticeConfig:
    personal_minutes: int = 120
    team_minutes: int = 120
    max_patrol_minutes: int = 240
    escalate_after_days: int = 3
    violation_notify_delay_minutes: int = 30
    violation_daily_limit: int = 5
    violation_retention_days: int = 365


@dataclass(frozen=True)
class ScheduleConfig:
    personal_reminders: tuple[WeeklyTime, ...] = (WeeklyTime(3, 18, 0), WeeklyTime(6, 10, 0))
    team_reminder: WeeklyTime = WeeklyTime(4, 17, 0)
    weekly_report: WeeklyTime = WeeklyTime(0, 8, 30)
    overdue_check: DailyTime = DailyTime(9, 0)
    close_forgotten_every_minutes: int = 15
    retention_cleanup: DailyTime = DailyTime(3, 30)


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    locale: LocaleConfig = field(default_factory=LocaleConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    wecom: WecomConfig = field(default_factory=WecomConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    dialog: DialogConfig = field(default_factory=DialogConfig)
    invites: InvitesConfig = field(default_factory=InvitesConfig)
    practice: PracticeConfig = field(default_factory=PracticeConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram.token)

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom.corp_id and self.wecom.secret)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.locale.timezone)


SECTION_CLASSES: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]


# --------------------------------------------------------------------------
# Raw (TOML-shaped) defaults, derived from the dataclasses so there is a
# single source of truth for names and default values.
# --------------------------------------------------------------------------


def _to_raw(value: Any) -> Any:
    if isinstance(value, (WeeklyTime, DailyTime)):
        return str(value)
    if isinstance(value, tuple):
        return [_to_raw(item) for item in value]
    return value


def _raw_defaults() -> dict[str, dict[str, Any]]:
    defaults = Config()
    return {
        name: {f.name: _to_raw(getattr(getattr(defaults, name), f.name)) for f in dataclasses.fields(cls)}
        for name, cls in SECTION_CLASSES.items()
    }


_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "float", list: "array", dict: "table"}
_EXPECTED = {str: "a string", bool: "a boolean (true or false)", int: "an integer", list: "a list of strings"}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _type_problem(value: Any, expected: type) -> str | None:
    """Describe why ``value`` is not of the raw type ``expected``, or None if it is."""
    # bool is a subclass of int, so compare exact types.
    if type(value) is not expected:
        return f"must be {_EXPECTED[expected]} (got {_type_name(value)})"
    if expected is list:
        for index, item in enumerate(value):
            if type(item) is not str:
                return f"must be {_EXPECTED[list]} (item {index} is {_type_name(item)})"
    return None


# --------------------------------------------------------------------------
# Reading the file and the environment
# --------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        # utf-8-sig: tolerate the BOM that some Windows editors add.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _merge_file(values: dict[str, dict[str, Any]], data: dict[str, Any], errors: list[str]) -> None:
    for section, table in data.items():
        if section not in values:
            errors.append(f"unknown section {section}")
            continue
        if not isinstance(table, dict):
            errors.append(f"{section} must be a table ([{section}]), got {_type_name(table)}")
            continue
        for key, value in table.items():
            if key not in values[section]:
                errors.append(f"unknown key {section}.{key}")
            else:
                values[section][key] = value


def env_var_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def _convert_env(text: str, expected: type) -> Any:
    """Convert an environment string to ``expected``; raise ValueError with the expected form."""
    if expected is str:
        return text
    if expected is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("must be one of 1, 0, true, false, yes, no")
    if expected is int:
        if not _INT_RE.fullmatch(text.strip()):
            raise ValueError("must be an integer")
        return int(text)
    if expected is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    raise TypeError(f"no env conversion for {expected}")  # pragma: no cover - schema bug


def _merge_env(
    values: dict[str, dict[str, Any]], defaults: dict[str, dict[str, Any]], env: Mapping[str, str], errors: list[str]
) -> None:
    for section, keys in defaults.items():
        for key, default in keys.items():
            name = env_var_name(section, key)
            if name not in env:
                continue
            try:
                values[section][key] = _convert_env(env[name], type(default))
            except ValueError as exc:
                errors.append(f"{name} {exc} (got {env[name]!r})")


# --------------------------------------------------------------------------
# Validation. Values with a wrong type are removed before these checks run,
# so a check only sees well-typed values and skips keys that are missing.
# --------------------------------------------------------------------------


class _Validator:
    def __init__(self, values: dict[str, dict[str, Any]], errors: list[str]) -> None:
        self.values = values
        self.errors = errors

    def get(self, section: str, key: str) -> Any:
        return self.values[section].get(key)

    def fail(self, section: str, key: str, problem: str) -> None:
        self.errors.append(f"{section}.{key} {problem}")

    def positive(self, section: str, *keys: str) -> None:
        for key in keys:
            value = self.get(section, key)
            if value is not None and value <= 0:
                self.fail(section, key, f"must be greater than 0 (got {value})")

    def choice(self, section: str, key: str, choices: tuple[str, ...]) -> None:
        value = self.get(section, key)
        if value is not None and value not in choices:
            self.fail(section, key, f"must be one of {', '.join(choices)} (got {value!r})")

    def non_empty(self, section: str, key: str) -> None:
        if self.get(section, key) == "":
            self.fail(section, key, "must not be empty")

    def http_url(self, section: str, key: str) -> None:
        """Non-empty values must be http(s) URLs with a host."""
        value = self.get(section, key)
        if value and not _is_http_url(value):
            self.fail(section, key, f"must be an http(s) URL (got {value!r})")

    def convert(self, section: str, key: str, parse: Callable[[str], Any], fmt: str) -> None:
        """Replace a string value by its parsed form, or report the expected format."""
        value = self.get(section, key)
        if value is None:
            return
        parsed = parse(value)
        if parsed is None:
            self.fail(section, key, f"must look like {fmt} (got {value!r})")
        else:
            self.values[section][key] = parsed


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_types(values: dict[str, dict[str, Any]], defaults: dict[str, dict[str, Any]], errors: list[str]) -> None:
    for section, keys in defaults.items():
        for key, default in keys.items():
            problem = _type_problem(values[section][key], type(default))
            if problem:
                errors.append(f"{section}.{key} {problem}")
                del values[section][key]


def _check_database(v: _Validator) -> None:
    schema = v.get("database", "schema")
    if schema and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        v.fail("database", "schema", f"must be a plain PostgreSQL name (got {schema!r})")
    url = v.get("database", "url")
    if url is None:
        return
    if schema and url.startswith("sqlite"):
        v.fail("database", "schema", "applies to PostgreSQL only; leave it empty with SQLite")
    for prefix, replacement in _DATABASE_PREFIXES.items():
        if url.startswith(prefix):
            v.values["database"]["url"] = replacement + url[len(prefix):]
            return
    v.fail("database", "url", f"must start with one of {', '.join(_DATABASE_PREFIXES)} (got {url!r})")


def _check_media(v: _Validator) -> None:
    v.non_empty("media", "dir")
    v.positive("media", "max_photo_mb")


def _check_locale(v: _Validator) -> None:
    v.choice("locale", "default", LOCALES)
    zone = v.get("locale", "timezone")
    if zone is not None and not _is_valid_zone(zone):
        v.fail("locale", "timezone", f"must be an IANA time zone name such as Asia/Shanghai (got {zone!r})")


def _is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _check_telegram(v: _Validator) -> None:
    v.choice("telegram", "mode", TELEGRAM_MODES)
    for key in ("base_url", "base_file_url", "webhook_url"):
        v.http_url("telegram", key)
    v.non_empty("telegram", "base_url")
    v.non_empty("telegram", "base_file_url")

    if v.get("telegram", "mode") == "webhook":
        url = v.get("telegram", "webhook_url")
        if url == "":
            v.fail("telegram", "webhook_url", "is required when telegram.mode is webhook")
        elif url and _is_http_url(url) and urlsplit(url).scheme != "https":
            # Telegram only delivers webhooks to https endpoints.
            v.fail("telegram", "webhook_url", f"must be an https URL when telegram.mode is webhook (got {url!r})")
        if v.get("telegram", "webhook_secret") == "":
            # Without it anyone who finds the URL could post updates as any user.
            v.fail("telegram", "webhook_secret",
                   "is required when telegram.mode is webhook (REDSHIELD_TELEGRAM_WEBHOOK_SECRET)")

    secret = v.get("telegram", "webhook_secret")
    if secret and not _WEBHOOK_SECRET_RE.fullmatch(secret):
        # Never echo the secret itself, only its length.
        v.fail(
            "telegram",
            "webhook_secret",
            f"must be 1-256 characters of A-Z, a-z, 0-9, _ and - (got {len(secret)} characters)",
        )


def _check_wecom(v: _Validator) -> None:
    agent_id = v.get("wecom", "agent_id")
    if agent_id is not None and agent_id < 0:
        v.fail("wecom", "agent_id", f"must be 0 or greater (got {agent_id})")
    aes_key = v.get("wecom", "encoding_aes_key")
    if aes_key and len(aes_key) != 43:
        v.fail("wecom", "encoding_aes_key", f"must be 43 characters (got {len(aes_key)})")
    v.http_url("wecom", "api_base_url")
    v.non_empty("wecom", "api_base_url")

    if not (v.get("wecom", "corp_id") or v.get("wecom", "secret")):
        return
    # Setting either of corp_id/secret switches WeCom on, so everything it needs must be present.
    for key in ("corp_id", "secret", "token", "encoding_aes_key"):
        if v.get("wecom", key) == "":
            v.fail("wecom", key, "is required when WeCom is enabled (corp_id or secret is set)")
    if agent_id == 0:
        v.fail("wecom", "agent_id", "must be greater than 0 when WeCom is enabled (corp_id or secret is set)")


def _check_server(v: _Validator) -> None:
    v.non_empty("server", "host")
    port = v.get("server", "port")
    if port is not None and not 1 <= port <= 65535:
        v.fail("server", "port", f"must be an integer from 1 to 65535 (got {port})")


def _check_counters(v: _Validator) -> None:
    v.positive("dialog", "timeout_minutes")
    v.positive("invites", "ttl_days", "max_failed_attempts", "attempt_window_minutes")
    v.positive(
        "practice",
        "personal_minutes",
        "team_minutes",
        "max_patrol_minutes",
        "escalate_after_days",
        "violation_notify_delay_minutes",
        "violation_daily_limit",
        "violation_retention_days",
    )


def _check_schedule(v: _Validator) -> None:
    reminders = v.get("schedule", "personal_reminders")
    if reminders is not None:
        parsed = []
        for index, text in enumerate(reminders):
            weekly = parse_weekly_time(text)
            if weekly is None:
                v.fail("schedule", f"personal_reminders[{index}]", f"must look like {_WEEKLY_FORMAT} (got {text!r})")
            parsed.append(weekly)
        v.values["schedule"]["personal_reminders"] = tuple(parsed)
    for key in ("team_reminder", "weekly_report"):
        v.convert("schedule", key, parse_weekly_time, _WEEKLY_FORMAT)
    for key in ("overdue_check", "retention_cleanup"):
        v.convert("schedule", key, parse_daily_time, _DAILY_FORMAT)
    v.positive("schedule", "close_forgotten_every_minutes")


_SECTION_CHECKS = (
    _check_database,
    _check_media,
    _check_locale,
    _check_telegram,
    _check_wecom,
    _check_server,
    _check_counters,
    _check_schedule,
)


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def _build(file_data: dict[str, Any], env: Mapping[str, str]) -> Config:
    defaults = _raw_defaults()
    values = {section: dict(keys) for section, keys in defaults.items()}
    errors: list[str] = []

    _merge_file(values, file_data, errors)
    _merge_env(values, defaults, env, errors)
    _check_types(values, defaults, errors)
    validator = _Validator(values, errors)
    for check in _SECTION_CHECKS:
        check(validator)

    if errors:
        raise ConfigError(errors)
    return Config(**{name: cls(**values[name]) for name, cls in SECTION_CLASSES.items()})


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load, merge and validate the configuration; raise ConfigError listing every problem."""
    config_path = Path(DEFAULT_PATH if path is None else path)
    if env is None:
        env = os.environ
    if config_path.exists():
        file_data = _read_toml(config_path)
    else:
        logger.info("No config file found at %s; using built-in defaults", config_path)
        file_data = {}
    return _build(file_data, env)


def default_config() -> Config:
    """The configuration used when there is no file and no environment overrides."""
    return _build({}, {})
