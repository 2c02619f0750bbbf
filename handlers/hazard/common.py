"""What the hazard views and steps share: labels, numbers, the summary, the notice PDF."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from bot.core.contract import Deferred, Document
from bot.core.i18n import N_, Translator
from handlers.hazard.pdf import render_notice
from handlers.photos import is_recording, recordings_text
from storage import hazards as store
from storage.media import MediaStore
from storage.models import Hazard, HazardStatus

# JGJ 59-2011's summary table, and 其他.
CATEGORIES = (N_("安全管理"), N_("文明施工"), N_("脚手架"), N_("基坑工程"), N_("模板支架"),
              N_("高处作业"), N_("施工用电"), N_("物料提升机与施工升降机"),
              N_("塔式起重机与起重吊装"), N_("施工机具"), N_("其他"))
GRADES = {"general": N_("一般隐患"), "major": N_("重大隐患")}
STATUS = {
    HazardStatus.open: N_("待整改"),
    HazardStatus.rectifying: N_("整改中"),
    HazardStatus.review: N_("待复查"),
    HazardStatus.closed: N_("已销项"),
}


def ref(hazard: Hazard) -> str:
    """How buttons and commands name a hazard: year-number, e.g. 2026-7."""
    return f"{hazard.year}-{hazard.number}"


def parse_ref(text: str, this_year: int) -> tuple[int, int] | None:
    """"7", "2026-7", "2026-0007", or the notice number itself."""
    text = text.strip()
    m = re.fullmatch(r"(?:([0-9]{4})[-/])?0*([0-9]{1,6})", text) or \
        re.fullmatch(r"红盾整改〔([0-9]{4})〕0*([0-9]{1,6})号", text)
    if not m:
        return None
    return int(m.group(1) or this_year), int(m.group(2))


def deadline_text(t: Translator, hazard: Hazard, today: dt.date) -> str:
    text = hazard.deadline.isoformat()
    if hazard.status != HazardStatus.closed and hazard.deadline < today:
        text += " " + t("（已超期 {days} 天）").format(days=(today - hazard.deadline).days)
    return text


def assignee_text(t: Translator, hazard: Hazard) -> str:
    return hazard.assignee.name if hazard.assignee else (hazard.assignee_text or t("未指定"))


def summary(t: Translator, hazard: Hazard, today: dt.date) -> str:
    lines = [
        f"{hazard.notice_number} · {t(STATUS[hazard.status])}",
        t("{grade} · {category} · {zone}").format(
            grade=t(GRADES[hazard.grade]), category=t(hazard.category),
            zone=hazard.zone.name if hazard.zone else "—"),
        hazard.description,
        t("整改责任人：{who}").format(who=assignee_text(t, hazard)),
        t("整改期限：{deadline}").format(deadline=deadline_text(t, hazard, today)),
    ]
    return "\n".join(lines)


NOTICE = "hazard_notice"  # the renderer of the 整改通知书 (registered in handlers.hazard)


def notice(t: Translator, hazard: Hazard) -> Deferred:
    """The 整改通知书 of `hazard`, in `t`'s language, to send or notify. It is made once the
    step has committed (the notice number's counter is not held while the PDF is laid
    out) and on a worker thread. It shows the hazard as it is when made: a notice queued
    for someone shows the state when it is delivered, which may be later than the step."""
    again = t("整改通知书暂时无法生成，请稍后发送 /hazard {ref} 重新获取").format(ref=ref(hazard))
    return Deferred(NOTICE, (hazard.id,), t.locale, fallback=again)


async def make_notice(session, config, t: Translator, hazard_id: int) -> Callable[[], Document] | None:
    """The renderer of `notice`: reads the hazard as it is now."""
    hazard = await store.load(session, hazard_id)
    if hazard is None:
        return None
    return await notice_work(t, hazard, MediaStore(config.media.dir), config.tz)


async def notice_work(t: Translator, hazard: Hazard, media: MediaStore, tz) -> Callable[[], Document]:
    """The 整改通知书 with every field; after closing, with the rectification part. Reads
    everything now (fields and photos); the function returned lays out the PDF, CPU only,
    to be called on a worker thread."""
    found = hazard.created_at.astimezone(tz)
    fields = [
        (t("编号"), hazard.notice_number), (t("项目"), hazard.project.name),
        (t("区域"), hazard.zone.name if hazard.zone else "—"),
        (t("发现日期"), found.strftime("%Y-%m-%d %H:%M")), (t("发现人"), hazard.reporter.name),
        (t("类别"), t(hazard.category)), (t("等级"), t(GRADES[hazard.grade])),
        (t("隐患描述"), hazard.description), (t("整改要求"), hazard.requirement or "—"),
        (t("整改责任人"), assignee_text(t, hazard)), (t("整改期限"), hazard.deadline.isoformat()),
        (t("状态"), t(STATUS[hazard.status])),
    ]
    before = [await media.read(p.media_name) for p in hazard.photos
              if p.stage == "before" and not is_recording({"evidence": p.evidence})]
    attached = recordings_text(t, [p.evidence.get("kind") for p in hazard.photos
                                   if is_recording({"evidence": p.evidence})])
    if attached:  # voice notes and videos cannot be printed: the notice says they exist
        fields.append((t("附件"), attached))
    after_fields, after = None, None
    if hazard.status == HazardStatus.closed:
        after_fields = [
            (t("整改措施"), hazard.measures or "—"),
            (t("整改完成"), hazard.rectified_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
             if hazard.rectified_at else "—"),
            (t("复查人"), hazard.rechecked_by.name if hazard.rechecked_by else "—"),
            (t("销项日期"), hazard.closed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")),
        ]
        after = [await media.read(p.media_name) for p in hazard.photos
                 if p.stage == "after" and not is_recording({"evidence": p.evidence})]
    title, before_title, after_title = t("隐患整改通知书"), t("整改前照片"), t("整改后照片")
    footer = t("{branch} · 红盾行动").format(branch=hazard.project.branch)
    omitted = t("（以下 {n} 行略，完整内容见系统记录）")
    filename = f"hazard-{hazard.year}-{hazard.number:04d}.pdf"
    caption = hazard.notice_number

    def make() -> Document:
        data = render_notice(fields, title, before, before_title, after_fields, after,
                             after_title, footer=footer, omitted=omitted)
        return Document(data, filename, caption=caption)

    return make


def media(ctx) -> MediaStore:
    return MediaStore(ctx.config.media.dir)
