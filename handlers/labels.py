"""Display names of roles and zone kinds, marked for translation."""
from __future__ import annotations

from bot.core.i18n import N_, Translator

ROLE_LABELS = {
    "member": N_("党员"),
    "vanguard": N_("先锋队员"),
    "leader": N_("先锋队长"),
    "secretary": N_("党支部书记"),
    "safety_officer": N_("安监人员"),
    "committee": N_("分公司党委"),
    "assignee": N_("整改责任人"),
    "worker": N_("工友"),
    "union": N_("工会"),
}

ZONE_KIND_LABELS = {
    "办公区": N_("办公区"),
    "生活区": N_("生活区"),
    "施工现场": N_("施工现场"),
}

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}  # each in its own language


def roles_text(t: Translator, roles: set[str]) -> str:
    ordered = [r for r in ROLE_LABELS if r in roles]
    return t("、").join(t(ROLE_LABELS[r]) for r in ordered)


def duration_text(t: Translator, minutes: int) -> str:
    """45分钟 · 2小时 · 1小时30分 (and the English)."""
    hours, rest = divmod(max(0, int(minutes)), 60)
    if hours and rest:
        return t("{h}小时{m}分").format(h=hours, m=rest)
    if hours:
        return t("{h}小时").format(h=hours)
    return t("{m}分钟").format(m=rest)


WEEKDAY_LABELS = (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日"))


def day_text(t: Translator, day) -> str:
    return f"{t(WEEKDAY_LABELS[day.weekday()])} {day.month:d}-{day.day:02d}"
