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
