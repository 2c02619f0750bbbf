import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.config import (
    Config,
    ConfigError,
    DailyTime,
    ScheduleConfig,
    WeeklyTime,
    default_config,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
GOOD_AES_KEY = "a" * 43


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env or {})
    return info.value.errors


def assert_error(errors: tuple[str, ...], pattern: str) -> None:
    assert any(re.search(pattern, e) for e in errors), f"{pattern!r} not in {errors}"


# --- defaults, file, env -------------------------------------------------


def test_missing_file_uses_defaults_and_logs_once(tmp_path, caplog):
    missing = tmp_path / "nope.toml"
    with caplog.at_level(logging.INFO, logger="redshield.config"):
        config = load_config(missing, env={})
    assert config == default_config()
    assert config.database.url == "sqlite+aiosqlite:///data/redshield.db"
    assert config.server.port == 8080
    assert config.schedule.overdue_check == DailyTime(9, 0)
    records = [r for r in caplog.records if r.name == "redshield.config"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert str(missing) in records[0].getMessage()
    assert "default" in records[0].getMessage()


def test_path_none_means_config_toml_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[server]\nport = 9123\n')
    assert load_config(None, env={}).server.port == 9123


def test_default_config_properties():
    config = default_config()
    assert config == Config()
    assert not config.telegram_enabled
    assert not config.wecom_enabled
    assert config.tz == ZoneInfo("Asia/Shanghai")
    assert config.locale.default == "zh_CN"
    assert config.wecom.numbered_choices is False


def test_file_values_override_defaults(tmp_path):
    path = write(
        tmp_path,
        """
[media]
dir = "/srv/photos"
max_photo_mb = 5
[locale]
default = "en"
timezone = "Europe/Berlin"
[telegram]
token = "123:abc"
[wecom]
numbered_choices = true
[practice]
violation_daily_limit = 9
""",
    )
    config = load_config(path, env={})
    assert config.media.dir == "/srv/photos"
    assert config.media.max_photo_mb == 5
    assert config.locale.default == "en"
    assert config.tz == ZoneInfo("Europe/Berlin")
    assert config.telegram_enabled
    assert config.wecom.numbered_choices is True
    assert config.practice.violation_daily_limit == 9
    # untouched keys keep their defaults
    assert config.practice.team_minutes == 120
    assert config.server.host == "127.0.0.1"


def test_relative_media_dir_stays_relative(tmp_path):
    config = load_config(write(tmp_path, '[media]\ndir = "photos/in"\n'), env={})
    assert config.media.dir == "photos/in"


def test_env_overrides_file(tmp_path):
    path = write(tmp_path, '[server]\nport = 8000\n[telegram]\ntoken = "from-file"\n')
    env = {"REDSHIELD_SERVER_PORT": "9000", "REDSHIELD_TELEGRAM_TOKEN": "from-env"}
    config = load_config(path, env=env)
    assert config.server.port == 9000
    assert config.telegram.token == "from-env"


def test_env_type_conversion(tmp_path):
    env = {
        "REDSHIELD_WECOM_NUMBERED_CHOICES": "Yes",
        "REDSHIELD_WECOM_AGENT_ID": " 1000002 ",
        "REDSHIELD_SCHEDULE_PERSONAL_REMINDERS": "mon 07:00, WED 19:30",
        "REDSHIELD_DIALOG_TIMEOUT_MINUTES": "45",
    }
    config = load_config(tmp_path / "missing.toml", env=env)
    assert config.wecom.numbered_choices is True
    assert config.wecom.agent_id == 1000002
    assert config.schedule.personal_reminders == (WeeklyTime(0, 7, 0), WeeklyTime(2, 19, 30))
    assert config.dialog.timeout_minutes == 45

    off = load_config(tmp_path / "missing.toml", env={"REDSHIELD_WECOM_NUMBERED_CHOICES": "0"})
    assert off.wecom.numbered_choices is False
    on = load_config(tmp_path / "missing.toml", env={"REDSHIELD_WECOM_NUMBERED_CHOICES": "on"})
    assert on.wecom.numbered_choices is True


def test_env_conversion_errors_name_the_variable(tmp_path):
    env = {"REDSHIELD_SERVER_PORT": "eighty", "REDSHIELD_WECOM_NUMBERED_CHOICES": "maybe"}
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml", env=env)
    errors = info.value.errors
    assert_error(errors, r"^REDSHIELD_SERVER_PORT must be an integer \(got 'eighty'\)$")
    assert_error(errors, r"^REDSHIELD_WECOM_NUMBERED_CHOICES must be one of 1, 0, true")
    assert len(errors) == 2


def test_unrelated_env_vars_are_ignored(tmp_path):
    env = {"REDSHIELD_CONFIG": "x", "PATH": "/bin", "REDSHIELD_SERVER": "{}", "REDSHIELD_SERVER_PROT": "1"}
    config = load_config(tmp_path / "missing.toml", env=env)
    assert config == default_config()


def test_config_is_immutable_and_copied_with_changes():
    config = default_config()
    with pytest.raises(ValidationError):
        config.server.port = 1  # type: ignore[misc]
    changed = config.model_copy(update={"server": config.server.model_copy(update={"port": 9000})})
    assert changed.server.port == 9000 and config.server.port == 8080
    assert changed.media == config.media


def test_secrets_stay_out_of_repr(tmp_path):
    env = {"REDSHIELD_TELEGRAM_TOKEN": "123:tok-xyz", "REDSHIELD_TELEGRAM_WEBHOOK_SECRET": "hook-xyz",
           "REDSHIELD_WECOM_CORP_ID": "ww1", "REDSHIELD_WECOM_AGENT_ID": "7", "REDSHIELD_WECOM_SECRET": "sec-xyz",
           "REDSHIELD_WECOM_TOKEN": "wtok-xyz", "REDSHIELD_WECOM_ENCODING_AES_KEY": "k" * 42 + "z"}
    text = repr(load_config(tmp_path / "missing.toml", env=env))
    assert "xyz" not in text and "kz" not in text
    assert "ww1" in text


# --- plugins -------------------------------------------------------------


def test_plugins_default_file_and_env(tmp_path):
    assert default_config().bot.plugins == ("handlers", "ops")
    path = write(tmp_path, '[bot]\nplugins = ["handlers", "acme.reports"]\n')
    assert load_config(path, env={}).bot.plugins == ("handlers", "acme.reports")
    env = {"REDSHIELD_BOT_PLUGINS": " handlers , acme_extra,"}
    assert load_config(path, env=env).bot.plugins == ("handlers", "acme_extra")
    assert load_config(path, env={"REDSHIELD_BOT_PLUGINS": ""}).bot.plugins == ()


@pytest.mark.parametrize(
    ("toml", "pattern"),
    [
        ('[bot]\nplugins = "handlers"', r"^bot\.plugins must be a list of strings \(got string\)$"),
        ("[bot]\nplugins = [1]", r"^bot\.plugins must be a list of strings \(item 0 is integer\)$"),
        ('[bot]\nplugins = ["handlers", "acme-reports"]',
         r"^bot\.plugins\[1\] must be an importable module name .*'acme-reports'"),
        ('[bot]\nplugins = ["handlers."]', r"^bot\.plugins\[0\] must be an importable module name"),
        ('[bot]\nplugin = ["handlers"]', r"^unknown key bot\.plugin$"),
    ],
)
def test_bad_plugins(tmp_path, toml, pattern):
    errors = errors_of(tmp_path, toml)
    assert_error(errors, pattern)
    assert len(errors) == 1


# --- example file --------------------------------------------------------


def test_example_file_equals_defaults():
    assert load_config(EXAMPLE, env={}) == default_config()


def test_example_file_mentions_every_field():
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, field in Config.model_fields.items():
        assert re.search(rf"^\[{section}\]$", text, re.M), section
        for key in field.annotation.model_fields:
            assert re.search(rf"^{key} = ", text, re.M), f"{section}.{key}"


def test_example_file_names_secret_env_vars():
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in (
        "REDSHIELD_TELEGRAM_TOKEN",
        "REDSHIELD_TELEGRAM_WEBHOOK_SECRET",
        "REDSHIELD_WECOM_SECRET",
        "REDSHIELD_WECOM_TOKEN",
        "REDSHIELD_WECOM_ENCODING_AES_KEY",
    ):
        assert name in text


# --- file-level errors ---------------------------------------------------


def test_toml_syntax_error(tmp_path):
    path = write(tmp_path, "[server]\nport = = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert str(path) in message
    assert "line 2" in message


def test_non_utf8_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('[media]\ndir = "照片"\n'.encode("gbk"))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value)
    assert "UTF-8" in str(info.value)


def test_path_that_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    assert str(info.value) == f"cannot read config file {tmp_path}: not a regular file"


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('[media]\ndir = "照片"\n'.encode("utf-8-sig"))
    assert load_config(path, env={}).media.dir == "照片"


def test_unknown_section_and_key(tmp_path):
    errors = errors_of(tmp_path, '[database]\nulr = "x"\n[datbase]\nurl = "y"\n')
    assert "unknown key database.ulr" in errors
    assert "unknown section datbase" in errors


def test_section_must_be_a_table(tmp_path):
    errors = errors_of(tmp_path, 'server = 5\n')
    assert_error(errors, r"^server must be a table")


# --- types ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "pattern"),
    [
        ('[server]\nport = "8080"', r"^server\.port must be an integer \(got string\)$"),
        ("[server]\nport = true", r"^server\.port must be an integer \(got boolean\)$"),
        ("[server]\nport = 80.0", r"^server\.port must be an integer \(got float\)$"),
        ('[wecom]\nnumbered_choices = "yes"', r"^wecom\.numbered_choices must be a boolean"),
        ("[telegram]\ntoken = 123", r"^telegram\.token must be a string \(got integer\)$"),
        ('[schedule]\npersonal_reminders = "mon 10:00"', r"^schedule\.personal_reminders must be a list of strings"),
        ("[schedule]\npersonal_reminders = [1]", r"^schedule\.personal_reminders must be a list of strings \(item 0"),
    ],
)
def test_wrong_types_name_key_and_type(tmp_path, toml, pattern):
    assert_error(errors_of(tmp_path, toml), pattern)


# --- value rules ---------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[server]\nport = 0", "server.port must be an integer from 1 to 65535 (got 0)"),
        ("[server]\nport = 70000", "server.port must be an integer from 1 to 65535 (got 70000)"),
        ("[media]\nmax_photo_mb = 0", "media.max_photo_mb must be greater than 0 (got 0)"),
        ("[dialog]\ntimeout_minutes = -5", "dialog.timeout_minutes must be greater than 0 (got -5)"),
        ("[invites]\nttl_days = 0", "invites.ttl_days must be greater than 0 (got 0)"),
        ("[practice]\nviolation_daily_limit = 0", "practice.violation_daily_limit must be greater than 0 (got 0)"),
        (
            "[schedule]\nclose_forgotten_every_minutes = 0",
            "schedule.close_forgotten_every_minutes must be greater than 0 (got 0)",
        ),
        ("[wecom]\nagent_id = -1", "wecom.agent_id must be 0 or greater (got -1)"),
        ('[locale]\ndefault = "fr"', "locale.default must be one of zh_CN, en (got 'fr')"),
        ('[telegram]\nmode = "poll"', "telegram.mode must be one of polling, webhook (got 'poll')"),
        ('[media]\ndir = ""', "media.dir must not be empty"),
    ],
)
def test_value_rules(tmp_path, toml, message):
    assert message in errors_of(tmp_path, toml)


def test_invalid_timezone(tmp_path):
    errors = errors_of(tmp_path, '[locale]\ntimezone = "Mars/Olympus"')
    assert_error(errors, r"^locale\.timezone must be an IANA time zone .*'Mars/Olympus'")
    errors = errors_of(tmp_path, '[locale]\ntimezone = "/etc/passwd"')
    assert_error(errors, r"^locale\.timezone must be an IANA time zone")


def test_database_url_prefix(tmp_path):
    errors = errors_of(tmp_path, '[database]\nurl = "mysql://localhost/x"')
    assert_error(errors, r"^database\.url must start with one of sqlite\+aiosqlite://.*'mysql://localhost/x'")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db/red", "postgresql+asyncpg://u:p@db/red"),
        ("postgresql://u:p@db/red", "postgresql+asyncpg://u:p@db/red"),
        ("postgresql+asyncpg://u:p@db/red", "postgresql+asyncpg://u:p@db/red"),
        ("sqlite+aiosqlite:////var/lib/red.db", "sqlite+aiosqlite:////var/lib/red.db"),
    ],
)
def test_database_url_normalisation(tmp_path, url, expected):
    assert load_config(write(tmp_path, f'[database]\nurl = "{url}"'), env={}).database.url == expected


def test_database_url_normalised_from_env(tmp_path):
    config = load_config(tmp_path / "missing.toml", env={"REDSHIELD_DATABASE_URL": "postgres://db/x"})
    assert config.database.url == "postgresql+asyncpg://db/x"


@pytest.mark.parametrize("key", ["base_url", "base_file_url", "webhook_url"])
def test_telegram_urls_must_be_http(tmp_path, key):
    errors = errors_of(tmp_path, f'[telegram]\n{key} = "ftp://example.com/"')
    assert f"telegram.{key} must be an http(s) URL (got 'ftp://example.com/')" in errors


def test_wecom_api_base_url_must_be_http(tmp_path):
    errors = errors_of(tmp_path, '[wecom]\napi_base_url = "qyapi.weixin.qq.com"')
    assert_error(errors, r"^wecom\.api_base_url must be an http\(s\) URL")


def test_webhook_mode_requires_webhook_url(tmp_path):
    errors = errors_of(tmp_path, '[telegram]\nmode = "webhook"')
    assert "telegram.webhook_url is required when telegram.mode is webhook" in errors


def test_webhook_mode_requires_https(tmp_path):
    errors = errors_of(tmp_path, '[telegram]\nmode = "webhook"\nwebhook_url = "http://bot.example.com/tg"')
    assert_error(errors, r"^telegram\.webhook_url must be an https URL when telegram\.mode is webhook")


def test_webhook_mode_requires_a_secret(tmp_path):
    errors = errors_of(tmp_path, '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.com/tg"')
    assert_error(errors, r"^telegram\.webhook_secret is required when telegram\.mode is webhook")


def test_webhook_mode_valid(tmp_path):
    path = write(
        tmp_path,
        '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.com/tg"\nwebhook_secret = "Abc_123-x"',
    )
    config = load_config(path, env={})
    assert config.telegram.mode == "webhook"
    assert config.telegram.webhook_url == "https://bot.example.com/tg"
    assert config.telegram.webhook_secret == "Abc_123-x"


@pytest.mark.parametrize(("secret", "length"), [("has space", 9), ("x" * 257, 257), ("密钥", 2)])
def test_webhook_secret_charset_and_length(tmp_path, secret, length):
    errors = errors_of(tmp_path, "", env={"REDSHIELD_TELEGRAM_WEBHOOK_SECRET": secret})
    assert (
        f"telegram.webhook_secret must be 1-256 characters of A-Z, a-z, 0-9, _ and - (got {length} characters)"
        in errors
    )
    # the secret itself is never echoed back
    assert not any(secret in e for e in errors)


def test_wecom_aes_key_length(tmp_path):
    errors = errors_of(tmp_path, '[wecom]\nencoding_aes_key = "abcdefghijkl"')
    assert errors == ("wecom.encoding_aes_key must be 43 characters (got 12)",)


def test_wecom_partial_setup_names_each_missing_key(tmp_path):
    errors = errors_of(tmp_path, '[wecom]\ncorp_id = "ww123"')
    assert_error(errors, r"^wecom\.secret is required")
    assert_error(errors, r"^wecom\.token is required")
    assert_error(errors, r"^wecom\.encoding_aes_key is required")
    assert_error(errors, r"^wecom\.agent_id must be greater than 0")
    assert not any(e.startswith("wecom.corp_id") for e in errors)
    assert len(errors) == 4


def test_wecom_secret_alone_requires_corp_id(tmp_path):
    errors = errors_of(tmp_path, "", env={"REDSHIELD_WECOM_SECRET": "s3cret"})
    assert_error(errors, r"^wecom\.corp_id is required")


def test_wecom_full_setup(tmp_path):
    path = write(tmp_path, '[wecom]\ncorp_id = "ww123"\nagent_id = 1000002\n')
    env = {
        "REDSHIELD_WECOM_SECRET": "s3cret",
        "REDSHIELD_WECOM_TOKEN": "tok",
        "REDSHIELD_WECOM_ENCODING_AES_KEY": GOOD_AES_KEY,
    }
    config = load_config(path, env=env)
    assert config.wecom_enabled
    assert config.wecom.agent_id == 1000002
    assert config.wecom.encoding_aes_key == GOOD_AES_KEY


def test_several_errors_reported_together(tmp_path):
    errors = errors_of(
        tmp_path,
        """
[server]
port = 0
[telegram]
mode = "poll"
[wecom]
encoding_aes_key = "short"
[database]
ulr = "x"
""",
        env={"REDSHIELD_DIALOG_TIMEOUT_MINUTES": "soon"},
    )
    assert len(errors) == 5
    assert "unknown key database.ulr" in errors
    assert "wecom.encoding_aes_key must be 43 characters (got 5)" in errors
    assert "telegram.mode must be one of polling, webhook (got 'poll')" in errors
    assert "server.port must be an integer from 1 to 65535 (got 0)" in errors
    assert_error(errors, r"^REDSHIELD_DIALOG_TIMEOUT_MINUTES must be an integer")


def test_config_error_message_lists_all_lines(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[server]\nport = 0\n[media]\nmax_photo_mb = 0\n"), env={})
    lines = str(info.value).splitlines()
    assert "server.port must be an integer from 1 to 65535 (got 0)" in lines
    assert "media.max_photo_mb must be greater than 0 (got 0)" in lines


# --- schedule ------------------------------------------------------------


def test_schedule_defaults_are_parsed():
    schedule = default_config().schedule
    assert schedule.personal_reminders == (WeeklyTime(3, 18, 0), WeeklyTime(6, 10, 0))
    assert schedule.team_reminder == WeeklyTime(4, 17, 0)
    assert schedule.weekly_report == WeeklyTime(0, 8, 30)
    assert schedule.overdue_check == DailyTime(9, 0)
    assert schedule.retention_cleanup == DailyTime(3, 30)
    assert schedule.close_forgotten_every_minutes == 15


def test_schedule_parsing_from_file(tmp_path):
    path = write(
        tmp_path,
        """
[schedule]
personal_reminders = ["SAT 07:05", "tue 23:59"]
team_reminder = "Sun 00:00"
weekly_report = "wed 12:15"
overdue_check = "23:59"
retention_cleanup = "00:00"
""",
    )
    schedule = load_config(path, env={}).schedule
    assert isinstance(schedule, ScheduleConfig)
    assert schedule.personal_reminders == (WeeklyTime(5, 7, 5), WeeklyTime(1, 23, 59))
    assert schedule.team_reminder == WeeklyTime(6, 0, 0)
    assert schedule.weekly_report == WeeklyTime(2, 12, 15)
    assert schedule.overdue_check == DailyTime(23, 59)
    assert schedule.retention_cleanup == DailyTime(0, 0)
    assert str(schedule.team_reminder) == "sun 00:00"
    assert schedule.overdue_check.to_time().hour == 23


def test_empty_personal_reminders_allowed(tmp_path):
    config = load_config(write(tmp_path, "[schedule]\npersonal_reminders = []"), env={})
    assert config.schedule.personal_reminders == ()


@pytest.mark.parametrize("bad", ["friday 17:00", "fri 24:00", "fri 17:60", "fri", "17:00", "fri 17:00 extra"])
def test_bad_weekly_time(tmp_path, bad):
    errors = errors_of(tmp_path, f'[schedule]\nteam_reminder = "{bad}"')
    assert errors == (f"schedule.team_reminder must look like \"<day> HH:MM\" with day one of "
                      f"mon, tue, wed, thu, fri, sat, sun (got {bad!r})",)


@pytest.mark.parametrize("bad", ["24:00", "9", "12:5", "noon", "mon 09:00", "１２:００"])
def test_bad_daily_time(tmp_path, bad):
    errors = errors_of(tmp_path, f'[schedule]\noverdue_check = "{bad}"')
    assert_error(errors, r'^schedule\.overdue_check must look like "HH:MM"')
    assert len(errors) == 1


def test_bad_personal_reminder_names_the_item(tmp_path):
    errors = errors_of(tmp_path, '[schedule]\npersonal_reminders = ["thu 18:00", "someday"]')
    assert_error(errors, r"^schedule\.personal_reminders\[1\] must look like \"<day> HH:MM\".*'someday'")


def test_the_production_example_is_valid_with_its_secrets_from_the_environment():
    env = {"REDSHIELD_TELEGRAM_TOKEN": "123:abc", "REDSHIELD_TELEGRAM_WEBHOOK_SECRET": "s3cret",
           "REDSHIELD_WECOM_SECRET": "x", "REDSHIELD_WECOM_TOKEN": "t",
           "REDSHIELD_WECOM_ENCODING_AES_KEY": "k" * 43}
    config = load_config(Path(__file__).parents[1] / "deploy" / "config.production.toml", env=env)
    assert config.telegram.mode == "webhook" and config.database.url.startswith("postgresql+asyncpg://")
    assert config.telegram_enabled and config.wecom_enabled


def test_database_schema_is_a_plain_name_and_postgresql_only(tmp_path):
    errors = errors_of(tmp_path, '[database]\nschema = "a; drop"')
    assert_error(errors, r"^database\.schema must be a plain PostgreSQL name")
    errors = errors_of(tmp_path, '[database]\nschema = "bot"')
    assert_error(errors, r"^database\.schema applies to PostgreSQL only")


def test_star_behaviours_come_from_a_table_or_from_name_value_pairs(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[stars]\nbehaviours = { "文明施工" = 1, "制止违章" = 4 }\n', encoding="utf-8")
    assert load_config(path, env={}).stars.behaviours == {"文明施工": 1, "制止违章": 4}
    env = {"REDSHIELD_STARS_BEHAVIOURS": "文明施工=2, 其他=1"}
    assert list(load_config(path, env=env).stars.behaviours.items()) == [("文明施工", 2), ("其他", 1)]
    for text, says in (("文明施工", "name=value pairs"), ("文明施工=a", "must be an integer"),
                       ("文明施工=0", "greater than 0"), ("长" * 101 + "=1", "at most 100 characters")):
        with pytest.raises(ConfigError, match=says):
            load_config(path, env={"REDSHIELD_STARS_BEHAVIOURS": text})
    path.write_text('[stars]\nbehaviours = "文明施工"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="stars.behaviours must be a table"):
        load_config(path, env={})
    path.write_text('[stars]\nbehaviours = {}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="stars.behaviours must not be empty"):
        load_config(path, env={})
