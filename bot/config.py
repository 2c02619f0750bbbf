"""Configuration loading for the Red Shield bot.

Values come from three layers, later ones winning:

1. built-in defaults (the model defaults below),
2. a TOML file (``config.toml`` by default),
3. environment variables named ``REDSHIELD_<SECTION>_<KEY>``.

Each section is a frozen pydantic model validated in strict mode, so a file value
must already have its key's type; environment strings are converted first
(pydantic's lax rules; lists are comma-separated). :func:`load_config` reports
every problem at once in a single :class:`ConfigError`, one line per problem
naming the key (or the environment variable).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError, core_schema
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from bot.core.i18n import N_

__all__ = [
    "Config", "ConfigError", "DailyTime", "WeeklyTime", "default_config", "env_var_name", "load_config",
    # the sections
    "BotConfig", "DatabaseConfig", "DialogConfig", "InvitesConfig", "LocaleConfig", "MediaConfig",
    "PracticeConfig", "ScheduleConfig", "ServerConfig", "TelegramConfig", "WecomConfig",
]

logger = logging.getLogger("redshield.config")

DEFAULT_PATH = "config.toml"
ENV_PREFIX = "REDSHIELD_"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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
_SCHEMA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# [0-9] rather than \d so that full-width or other Unicode digits are rejected.
_HHMM_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")

_WEEKLY_FORMAT = '"<day> HH:MM" with day one of ' + ", ".join(WEEKDAYS)
_DAILY_FORMAT = '"HH:MM" (00:00 to 23:59)'


class ConfigError(Exception):
    """The configuration is unusable; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str] | tuple[str, ...] | str) -> None:
        self.errors: tuple[str, ...] = (errors,) if isinstance(errors, str) else tuple(errors)
        super().__init__("\n".join(self.errors))


def _problem(message: str) -> PydanticCustomError:
    """A validation error whose message is reported after the key's name as it is."""
    return PydanticCustomError("config", message)


def _rule(ok: Callable[[Any], Any], problem: Callable[[Any], str]) -> AfterValidator:
    """A check of one value: ``problem(value)`` describes a value that is not ``ok``."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise _problem(problem(value))
        return value

    return AfterValidator(check)


# --------------------------------------------------------------------------
# Parsed schedule times: written as text in TOML and the environment.
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

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return _text_schema(cls, parse_daily_time, _DAILY_FORMAT)


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

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return _text_schema(cls, parse_weekly_time, _WEEKLY_FORMAT)


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


def _text_schema(cls: type, parse: Callable[[str], Any], fmt: str) -> core_schema.CoreSchema:
    """Validate an instance as it is and text through ``parse``; serialise (to JSON) as text."""

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise PydanticKnownError("string_type")
        parsed = parse(value)
        if parsed is None:
            raise _problem(f"must look like {fmt} (got {value!r})")
        return parsed

    return core_schema.no_info_plain_validator_function(
        validate, serialization=core_schema.to_string_ser_schema(when_used="json")
    )


# --------------------------------------------------------------------------
# Value types shared by the sections
# --------------------------------------------------------------------------


def _string_list(value: Any) -> Any:
    """A TOML array (or a split environment value) of strings, kept as a tuple."""
    if isinstance(value, tuple):  # built in Python, e.g. the defaults
        return value
    if not isinstance(value, list):
        raise _problem(f"must be a list of strings (got {_type_name(value)})")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _problem(f"must be a list of strings (item {index} is {_type_name(item)})")
    return tuple(value)


_HTTP_URL = TypeAdapter(HttpUrl)


def _url_scheme(value: str) -> str | None:
    """``http`` or ``https`` for an http(s) URL with a host, else None."""
    try:
        return _HTTP_URL.validate_python(value).scheme
    except ValidationError:
        return None


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


Positive = Annotated[int, Field(gt=0)]
NonEmpty = Annotated[str, Field(min_length=1)]
# Empty means "not set"; anything else must be an http(s) URL.
OptionalHttpUrl = Annotated[str, _rule(lambda url: not url or _url_scheme(url),
                                       lambda url: f"must be an http(s) URL (got {url!r})")]
HttpUrlText = Annotated[NonEmpty, _rule(_url_scheme, lambda url: f"must be an http(s) URL (got {url!r})")]
StringList = BeforeValidator(_string_list)
ModuleName = Annotated[str, _rule(lambda name: all(part.isidentifier() for part in name.split(".")),
                                  lambda name: f"must be an importable module name such as handlers (got {name!r})")]


# --------------------------------------------------------------------------
# Sections. Field names are the TOML keys; defaults are the built-in defaults.
# --------------------------------------------------------------------------


class _Section(BaseModel):
    # validate_default: rules that read other keys run on keys left at their default too.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)


def _report(section: _Section, problems: dict[str, str]) -> None:
    """Fail rules across a section's keys, one error per key (a model validator's own errors have no key)."""
    if problems:
        raise ValidationError.from_exception_data(type(section).__name__, [
            InitErrorDetails(type=_problem(problem), loc=(key,), input=getattr(section, key))
            for key, problem in problems.items()
        ])


class BotConfig(_Section):
    # Packages whose register(registry) adds the bot's capabilities, in order.
    plugins: Annotated[tuple[ModuleName, ...], StringList] = ("handlers", "ops")


def _database_url(url: str) -> str:
    for prefix, replacement in _DATABASE_PREFIXES.items():
        if url.startswith(prefix):
            return replacement + url[len(prefix):]
    from storage.db import safe_url  # a wrong URL is shown without its password

    raise _problem(f"must start with one of {', '.join(_DATABASE_PREFIXES)} (got {safe_url(url)!r})")


with warnings.catch_warnings():
    # The TOML key `schema` shadows BaseModel's deprecated schema() method, which is harmless.
    warnings.filterwarnings("ignore", 'Field name "schema"', UserWarning)

    class DatabaseConfig(_Section):
        url: Annotated[str, AfterValidator(_database_url)] = "sqlite+aiosqlite:///data/redshield.db"
        # PostgreSQL only: the schema the tables live in ("" = the default)
        schema: Annotated[str, _rule(lambda name: not name or _SCHEMA_RE.fullmatch(name),
                                     lambda name: f"must be a plain PostgreSQL name (got {name!r})")] = ""

        @field_validator("schema")
        @classmethod
        def _postgresql_only(cls, schema: str, info: ValidationInfo) -> str:
            if schema and info.data.get("url", "").startswith("sqlite"):
                raise _problem("applies to PostgreSQL only; leave it empty with SQLite")
            return schema


class MediaConfig(_Section):
    dir: NonEmpty = "data/media"
    max_photo_mb: Positive = 20
    # A photo with more pixels is refused before it is decoded (a decompression bomb).
    max_photo_pixels: Positive = 40_000_000
    # Photos decoded at once per process: each may take ~100 MB while it is worked on.
    image_workers: Positive = 2


class SecurityConfig(_Section):
    # Keys every pseudonym and counter a database reader must not recompute (anonymous
    # reporters' rate limits, de-duplication ids, invite codes). Required when `run`
    # serves a chat platform; also REDSHIELD_SECRET_KEY.
    secret_key: str = Field("", repr=False)


class LogConfig(_Section):
    # Every level is safe: tokens, secrets and anonymous reporters' messages are redacted.
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class RedisConfig(_Section):
    # What several workers share that is short-lived: rate counters, anonymous drafts,
    # WeCom's access token. Empty: one process keeps them in memory.
    url: str = Field("", repr=False)


class LimitsConfig(_Section):
    # The platforms' sending limits, counted in one place for every process (Redis when
    # [redis] url is set, else PostgreSQL; SQLite runs one process and counts in memory).
    # Telegram: about 30 chat-bound calls a second overall, one a second per chat, 20 a
    # minute per group; WeCom: 30 messages a minute per member (more are dropped silently).
    telegram_per_second: Annotated[int, Field(gt=0, le=1000)] = 30
    telegram_chat_seconds: Annotated[float, Field(ge=0, le=60)] = 1.0
    # Telegram lets a chat have a short burst (a text and its PDF) as long as the pace
    # averages out: at most this many messages in burst × telegram_chat_seconds.
    telegram_chat_burst: Annotated[int, Field(gt=0, le=20)] = 5
    telegram_group_per_minute: Annotated[int, Field(gt=0, le=1000)] = 20
    wecom_member_per_minute: Annotated[int, Field(gt=0, le=1000)] = 30
    # Benchmarks only: no limit at all. Real Telegram (a self-hosted Bot API server too)
    # and WeCom enforce theirs, so production must never set it.
    lift: bool = False


class LocaleConfig(_Section):
    default: Literal["zh_CN", "en"] = "zh_CN"
    timezone: Annotated[str, _rule(_is_zone, lambda zone: "must be an IANA time zone name such as "
                                                          f"Asia/Shanghai (got {zone!r})")] = "Asia/Shanghai"


class TelegramConfig(_Section):
    token: str = Field("", repr=False)
    mode: Literal["polling", "webhook"] = "polling"
    base_url: HttpUrlText = "https://api.telegram.org/bot"
    base_file_url: HttpUrlText = "https://api.telegram.org/file/bot"
    webhook_url: OptionalHttpUrl = ""
    webhook_secret: Annotated[str, _rule(
        lambda secret: not secret or _WEBHOOK_SECRET_RE.fullmatch(secret),
        # Never echo the secret itself, only its length.
        lambda secret: f"must be 1-256 characters of A-Z, a-z, 0-9, _ and - (got {len(secret)} characters)",
    )] = Field("", repr=False)

    # The bot's @username (without the @), for t.me links people scan: a lesson's check-in
    # QR code. Empty: no such links (the code is shown alone).
    bot_username: Annotated[str, _rule(
        lambda name: not name or re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", name),
        lambda name: f"must be a Telegram username: 4-32 letters, digits or _ (got {name!r})",
    )] = ""

    # These read `mode`, which is validated before them.
    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, url: str, info: ValidationInfo) -> str:
        if info.data.get("mode") == "webhook":
            if not url:
                raise _problem("is required when telegram.mode is webhook")
            if _url_scheme(url) != "https":
                # Telegram only delivers webhooks to https endpoints.
                raise _problem(f"must be an https URL when telegram.mode is webhook (got {url!r})")
        return url

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, secret: str, info: ValidationInfo) -> str:
        if info.data.get("mode") == "webhook" and not secret:
            # Without it anyone who finds the URL could post updates as any user.
            raise _problem("is required when telegram.mode is webhook (REDSHIELD_TELEGRAM_WEBHOOK_SECRET)")
        return secret


class WecomConfig(_Section):
    corp_id: str = ""
    agent_id: Annotated[int, Field(ge=0)] = 0
    secret: str = Field("", repr=False)
    token: str = Field("", repr=False)
    encoding_aes_key: Annotated[str, _rule(lambda key: not key or len(key) == 43,
                                           lambda key: f"must be 43 characters (got {len(key)})"),
                                ] = Field("", repr=False)
    api_base_url: HttpUrlText = "https://qyapi.weixin.qq.com/cgi-bin/"
    redis_url: str = Field("", repr=False)  # an alias of [redis] url, kept for older configs
    numbered_choices: bool = False
    # Callbacks signed with a timestamp further than this from our clock are refused (replays).
    # At most an hour: the database remembers handled messages for days, far longer.
    max_clock_skew_seconds: Annotated[int, Field(gt=0, le=3600)] = 300

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> WecomConfig:
        # Setting either of corp_id/secret switches WeCom on, so everything it needs must be present.
        # (A model validator runs once every key is valid on its own, so these come after those problems.)
        if not (self.corp_id or self.secret):
            return self
        problems = {key: "is required when WeCom is enabled (corp_id or secret is set)"
                    for key in ("corp_id", "secret", "token", "encoding_aes_key") if not getattr(self, key)}
        if self.agent_id == 0:
            problems["agent_id"] = "must be greater than 0 when WeCom is enabled (corp_id or secret is set)"
        _report(self, problems)
        return self


class ServerConfig(_Section):
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, _rule(lambda port: 1 <= port <= 65535,
                               lambda port: f"must be an integer from 1 to 65535 (got {port})")] = 8080
    # The address the platforms reach this server at (https://bot.example.com), for
    # `redshield doctor` to check from outside; empty: not checked.
    public_url: Annotated[str, _rule(lambda url: not url or url.startswith(("https://", "http://")),
                                     lambda url: f"must start with https:// (got {url!r})")] = ""


class DialogConfig(_Section):
    timeout_minutes: Positive = 30


class InvitesConfig(_Section):
    ttl_days: Positive = 14
    max_failed_attempts: Positive = 5
    attempt_window_minutes: Positive = 15


class PracticeConfig(_Section):
    personal_minutes: Positive = 120
    team_minutes: Positive = 120
    max_patrol_minutes: Positive = 240
    escalate_after_days: Positive = 3
    violation_notify_delay_minutes: Positive = 30
    violation_daily_limit: Positive = 5
    violation_retention_days: Positive = 365
    # What a forgotten patrol (closed at max_patrol_minutes) counts: the time up to the
    # member's last sign of life (a message, photo or location), or the whole cap.
    forgotten_credit: Literal["last_seen", "cap"] = "last_seen"
    # Who may re-check (复查) a 一般隐患: its finder and these roles; never the assignee or
    # whoever recorded the rectification. A 重大隐患: only the safety officer or secretary.
    rechecked_by: Annotated[tuple[Literal["finder", "safety_officer", "secretary", "leader",
                                          "vanguard", "committee"], ...], StringList,
                            Field(min_length=1)] = (
        "finder", "safety_officer", "secretary", "leader")
    # When a patrol started outside its zone's geofence counts: once a safety officer
    # accepts it, or always (flagged only).
    off_site_credit: Literal["accepted", "always"] = "accepted"


# Marked for translation: the /star buttons show a configured name in the member's
# language when the catalog knows it.
_BEHAVIOURS = {N_("正确佩戴安全帽/系挂安全带"): 2, N_("主动报告隐患"): 3, N_("制止违章"): 3,
               N_("文明施工"): 1, N_("参加安全活动"): 1, N_("其他"): 1}


class StarsConfig(_Section):
    """行为安全之星: points per behaviour (the /star buttons, in this order) and per event."""

    # A name is kept with each star (star_entries.reason: 100 characters).
    behaviours: dict[Annotated[str, Field(min_length=1, max_length=100)], Positive] = Field(
        default_factory=lambda: dict(_BEHAVIOURS), min_length=1)
    # The bot's own events: a report confirmed 属实 (its reporter, or its receipt when
    # anonymous), a hazard a worker reported that became a notice, each correct quiz answer.
    violation_confirmed: Positive = 5
    hazard_reported: Positive = 3
    quiz_correct: Positive = 1
    deduction: Positive = 5  # offered first when an officer deducts for a confirmed violation
    max_deduction: Positive = 20
    top: Positive = 3  # stars proposed each month
    # Stars one member may give one worker for one behaviour a day.
    per_worker_per_day: Positive = 1
    withdraw_hours: Positive = 24  # the giver may withdraw within this; officers any time
    consent_hours: Positive = 24  # how long a star's announcement waits for the worker's answer


class LessonsConfig(_Section):
    """红盾课堂 and quizzes."""

    # Check-in is open from this long before a lesson starts to this long after it ends.
    checkin_early_minutes: Positive = 15
    checkin_late_minutes: Positive = 30
    code_length: Annotated[int, Field(ge=6, le=12)] = 6  # RULINGS 12: at least 6
    quiz_questions: Annotated[int, Field(gt=0, le=50)] = 10  # drawn per attempt
    quiz_attempts: Positive = 1  # per person and quiz


class BackupConfig(_Section):
    # Where the daily backup goes (a folder, ideally another disk); empty: no daily backup.
    dir: str = ""
    keep_days: Positive = 14
    at: DailyTime = DailyTime(2, 30)


class OpsConfig(_Section):
    # Who is told in chat when the bot stops working properly (small deployments without
    # Prometheus): members by name as in the directory, or "PROJECT_CODE/name".
    contacts: Annotated[tuple[str, ...], StringList] = ()
    # /readyz fails when the oldest due outbox message waited longer than this.
    outbox_max_age_minutes: Positive = 15


class ScheduleConfig(_Section):
    personal_reminders: Annotated[tuple[WeeklyTime, ...], StringList] = (WeeklyTime(3, 18, 0), WeeklyTime(6, 10, 0))
    team_reminder: WeeklyTime = WeeklyTime(4, 17, 0)
    weekly_report: WeeklyTime = WeeklyTime(0, 8, 30)
    overdue_check: DailyTime = DailyTime(9, 0)
    close_forgotten_every_minutes: Positive = 15
    retention_cleanup: DailyTime = DailyTime(3, 30)
    monthly_stars: DailyTime = DailyTime(9, 0)  # on the 1st: the month's 行为安全之星 proposed
    lesson_reminder_minutes: Positive = 60  # the audience is reminded this long before a lesson
    lesson_record_check: DailyTime = DailyTime(10, 0)  # organisers of yesterday's incomplete records


class Config(BaseSettings):
    """The whole configuration. ``Config(...)`` is the defaults plus the sections given;
    :func:`load_config` adds the TOML file and the environment. Change a copy with
    ``config.model_copy(update={"media": config.media.model_copy(update={"dir": ...})})``."""

    # case_sensitive: TOML section names match exactly, as TOML keys do.
    model_config = SettingsConfigDict(frozen=True, extra="forbid", strict=True, case_sensitive=True)

    bot: BotConfig = Field(default_factory=BotConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    locale: LocaleConfig = Field(default_factory=LocaleConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    wecom: WecomConfig = Field(default_factory=WecomConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    dialog: DialogConfig = Field(default_factory=DialogConfig)
    invites: InvitesConfig = Field(default_factory=InvitesConfig)
    practice: PracticeConfig = Field(default_factory=PracticeConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    stars: StarsConfig = Field(default_factory=StarsConfig)
    lessons: LessonsConfig = Field(default_factory=LessonsConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's path and the environment are per call, so load_config() applies
        # those sources itself (pydantic-settings has no per-call source arguments).
        return (init_settings,)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram.token)

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom.corp_id and self.wecom.secret)

    @property
    def redis_url(self) -> str:
        """[redis] url, or the older [wecom] redis_url."""
        return self.redis.url or self.wecom.redis_url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.locale.timezone)


# --------------------------------------------------------------------------
# Sources: the TOML file and the environment
# --------------------------------------------------------------------------


class _TomlFile(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, reading with a BOM allowed and failing with a ConfigError."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:  # type: ignore[override]
        try:
            data = file_path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file_path}: {exc.strerror or exc}") from exc
        try:
            # utf-8-sig: tolerate the BOM that some Windows editors add.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {file_path} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
            ) from exc
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file_path} is not valid TOML: {exc}") from exc


def env_var_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


_LAX = {int: TypeAdapter(int), bool: TypeAdapter(bool)}


class _Environment(PydanticBaseSettingsSource):
    """``REDSHIELD_<SECTION>_<KEY>`` variables from a given mapping; other names are ignored.

    Integers and booleans are converted with pydantic's lax rules (a value that does not
    convert is left as text for validation to report), lists are comma-separated. Unlike
    pydantic-settings' EnvSettingsSource this reads a mapping other than os.environ, splits
    lists on commas rather than decoding JSON, and ignores unknown REDSHIELD_* names."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads whole sections

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, Any]] = {}
        for section, section_field in self.settings_cls.model_fields.items():
            for key, field in section_field.annotation.model_fields.items():
                text = self.environ.get(env_var_name(section, key))
                if text is not None:
                    values.setdefault(section, {})[key] = self._convert(text, field.annotation)
        return values

    @staticmethod
    def _convert(text: str, annotation: Any) -> Any:
        if get_origin(annotation) is tuple:
            return [item.strip() for item in text.split(",") if item.strip()]
        if get_origin(annotation) is dict:  # "name=2,other=3"
            pairs = [item.partition("=") for item in text.split(",") if item.strip()]
            if any(not sep for _, sep, _ in pairs):
                return text  # reported as not a table
            value_type = get_args(annotation)[1]
            if get_origin(value_type) is Annotated:
                value_type = get_args(value_type)[0]
            return {k.strip(): _Environment._convert(v, value_type) for k, _, v in pairs}
        if annotation in _LAX:
            try:
                return _LAX[annotation].validate_python(text.strip())
            except ValidationError:
                return text
        return text


# --------------------------------------------------------------------------
# Error messages: one line per problem, naming the key
# --------------------------------------------------------------------------

_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "float", list: "array", dict: "table"}

# Messages for pydantic's own error types, formatted with the error's context.
_MESSAGES = {
    "int_type": "must be an integer (got {type})",
    "bool_type": "must be a boolean (true or false) (got {type})",
    "string_type": "must be a string (got {type})",
    "greater_than": "must be greater than {gt} (got {input})",
    "greater_than_equal": "must be {ge} or greater (got {input})",
    "string_too_short": "must not be empty",
    "literal_error": "must be one of {choices} (got {input!r})",
    "dict_type": "must be a table, such as {{ \"文明施工\" = 1 }} (got {type})",
    "too_short": "must not be empty",
}
# The same for a value from the environment that did not convert, naming the variable.
_ENV_MESSAGES = {
    "int_type": "must be an integer (got {input!r})",
    "bool_type": "must be one of 1, 0, true, false, yes, no, on, off (got {input!r})",
    "dict_type": "must be name=value pairs separated by commas (got {input!r})",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _describe(error: Any, from_env: Mapping[str, Mapping[str, Any]]) -> str:
    loc, kind, value = error["loc"], error["type"], error["input"]
    if kind == "extra_forbidden":
        return f"unknown section {loc[0]}" if len(loc) == 1 else f"unknown key {loc[0]}.{loc[1]}"
    if len(loc) == 1:
        return f"{loc[0]} must be a table ([{loc[0]}]), got {_type_name(value)}"
    section, key, *index = loc
    if kind == "literal_error" and not isinstance(value, str):
        kind = "string_type"
    if kind in _ENV_MESSAGES and key in from_env.get(section, {}):
        return f"{env_var_name(section, key)} {_ENV_MESSAGES[kind].format(input=value)}"
    name = f"{section}.{key}" + "".join(f"[{i}]" for i in index)
    if kind not in _MESSAGES:
        return f"{name} {error['msg']}"
    choices = ""
    if kind == "literal_error":
        choices = ", ".join(get_args(Config.model_fields[section].annotation.model_fields[key].annotation))
    return f"{name} " + _MESSAGES[kind].format(**error.get("ctx", {}), input=value, type=_type_name(value),
                                                choices=choices)


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load, merge and validate the configuration; raise ConfigError listing every problem."""
    config_path = Path(DEFAULT_PATH if path is None else path)
    if not config_path.exists():
        logger.info("No config file found at %s; using built-in defaults", config_path)
    elif not config_path.is_file():
        raise ConfigError(f"cannot read config file {config_path}: not a regular file")
    data = _TomlFile(Config, toml_file=config_path)()
    environ = dict(os.environ if env is None else env)
    if "REDSHIELD_SECRET_KEY" in environ:  # the short name of [security] secret_key
        environ.setdefault(env_var_name("security", "secret_key"), environ["REDSHIELD_SECRET_KEY"])
    from_env = _Environment(Config, environ)()
    for section, values in from_env.items():
        table = data.get(section, {})
        if isinstance(table, dict):  # else validation reports the section that is not a table
            data[section] = {**table, **values}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(error, from_env) for error in exc.errors()]) from None


def default_config() -> Config:
    """The configuration used when there is no file and no environment overrides."""
    return Config()
