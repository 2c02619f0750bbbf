"""/hazard (隐患): reporting a hazard, from photos to a numbered notice."""
from __future__ import annotations

import datetime as dt

from bot.core.contract import DONE, SKIP, AskPhoto, Choices, Incoming, Kind, Notice, Option, Text
from bot.core.flow import Ctx, Flow
from bot.core.registry import Registry
from handlers import photos as photo_rules
from handlers.hazard.common import CATEGORIES, GRADES, notice_pdf, ref, summary
from handlers.notices import translator_for
from handlers.patrol import local, parse_day, project_zones, take_zone, zone_options
from storage import hazards as store
from storage import patrols as patrol_store
from storage.media import MediaStore
from storage.models import Hazard, HazardPhoto, HazardStatus, Member, ViolationReport, Zone

OFFICERS = {"safety_officer", "secretary"}


def media(ctx: Ctx) -> MediaStore:
    return MediaStore(ctx.config.media.dir)


async def take_photo(ctx: Ctx, msg: Incoming, into: list) -> bool:
    """Check and store a photo as evidence; False (with the reason said) when it cannot be used."""
    prepared = await photo_rules.accept(ctx, msg, len(into), photo_rules.prepare_evidence)
    if prepared is None:
        return False
    upright, evidence = prepared
    into.append({"name": await media(ctx).save(upright, ".jpg"), "evidence": evidence})
    return True


def build(registry: Registry) -> Flow:
    flow = registry.flow(Flow("hazard"))

    async def ask_photos(ctx: Ctx):
        n = len(ctx.data.get("photos", []))
        if n == 0:
            prompt = ctx.t("报告隐患：请拍照发送（1–9 张），发完点“完成”。")
        else:
            prompt = ctx.t("已收到 {n} 张照片。继续发送，或点“完成”。").format(n=n)
        return AskPhoto(prompt, many=True)

    @flow.step("photos", accepts={Kind.photo, Kind.choice}, ask=ask_photos)
    async def got_photo(ctx: Ctx, msg: Incoming) -> None:
        photos = ctx.data.setdefault("photos", [])
        if msg.kind is Kind.photo:
            await take_photo(ctx, msg, photos)
            await ctx.ask_again()
        elif msg.choice == DONE and photos:
            await ctx.goto("zone")
        else:
            ctx.say(ctx.t("请至少发送一张照片。"))
            await ctx.ask_again()

    async def ask_zone(ctx: Ctx):
        zones = await project_zones(ctx)
        default = ctx.data.get("default_zone")
        zones.sort(key=lambda z: z.id != default)  # the open patrol's zone first
        return Choices(ctx.t("隐患在哪个区域？"), zone_options(zones))

    @flow.step("zone", accepts={Kind.choice}, ask=ask_zone)
    async def got_zone(ctx: Ctx, msg: Incoming) -> None:
        await take_zone(ctx, msg, then="category")

    async def ask_category(ctx: Ctx):
        return Choices(ctx.t("隐患类别："), tuple(Option(ctx.t(c), f"c{i}")
                                                  for i, c in enumerate(CATEGORIES)))

    @flow.step("category", accepts={Kind.choice}, ask=ask_category)
    async def got_category(ctx: Ctx, msg: Incoming) -> None:
        index = msg.choice[1:] if (msg.choice or "").startswith("c") else ""
        if not index.isdigit() or int(index) >= len(CATEGORIES):
            await ctx.ask_again()
            return
        ctx.data["category"] = CATEGORIES[int(index)]
        await ctx.goto("grade")

    async def ask_grade(ctx: Ctx):
        return Choices(ctx.t("隐患等级："), tuple(Option(ctx.t(label), key)
                                                  for key, label in GRADES.items()))

    @flow.step("grade", accepts={Kind.choice}, ask=ask_grade)
    async def got_grade(ctx: Ctx, msg: Incoming) -> None:
        if msg.choice not in GRADES:
            await ctx.ask_again()
            return
        ctx.data["grade"] = msg.choice
        await ctx.goto("description")

    async def ask_description(ctx: Ctx):
        return Text(ctx.t("请简要描述隐患（例如：3号楼5层脚手架缺少扣件）。"))

    @flow.step("description", accepts={Kind.text}, ask=ask_description)
    async def got_description(ctx: Ctx, msg: Incoming) -> None:
        text = msg.text.strip()
        if len(text) < 2:
            ctx.say(ctx.t("描述不能为空。"))
            await ctx.ask_again()
            return
        ctx.data["description"] = text[:1000]
        await ctx.goto("requirement")

    async def ask_requirement(ctx: Ctx):
        return Choices(ctx.t("整改要求（可选）：输入文字，或点“跳过”。"),
                       (Option(ctx.t("跳过"), SKIP),))

    @flow.step("requirement", accepts={Kind.text, Kind.choice}, ask=ask_requirement)
    async def got_requirement(ctx: Ctx, msg: Incoming) -> None:
        ctx.data["requirement"] = msg.text.strip()[:1000] if msg.kind is Kind.text else None
        await ctx.goto("assignee")

    async def ask_assignee(ctx: Ctx):
        people = await store.members_with_roles(ctx.session, ctx.member.project_id, {"assignee"})
        return Choices(ctx.t("整改责任人：点名字，或输入班组 / 分包单位名称。"),
                       tuple(Option(m.name, f"m{m.id}") for m in people))

    @flow.step("assignee", accepts={Kind.text, Kind.choice}, ask=ask_assignee)
    async def got_assignee(ctx: Ctx, msg: Incoming) -> None:
        if msg.kind is Kind.text:
            name = msg.text.strip()
            if not name:
                await ctx.ask_again()
                return
            ctx.data.update(assignee_id=None, assignee_text=name[:200])
        else:
            member = None
            if (msg.choice or "").startswith("m") and msg.choice[1:].isdigit():
                member = await ctx.session.get(Member, int(msg.choice[1:]))
            if member is None or member.project_id != ctx.member.project_id:
                ctx.say(ctx.t("责任人必须是本项目的人员，请从按钮中选择。"))
                await ctx.ask_again()
                return
            ctx.data.update(assignee_id=member.id, assignee_text=None)
        await ctx.goto("deadline")

    async def ask_deadline(ctx: Ctx):
        t = ctx.t
        return Choices(t("整改期限：点按钮，或输入日期（如 12-05）。"),
                       (Option(t("今天"), "0"), Option(t("3天"), "3"), Option(t("7天"), "7")))

    @flow.step("deadline", accepts={Kind.text, Kind.choice}, ask=ask_deadline)
    async def got_deadline(ctx: Ctx, msg: Incoming) -> None:
        today = local(ctx, ctx.now).date()
        if msg.kind is Kind.choice and msg.choice in ("0", "3", "7"):
            deadline = today + dt.timedelta(days=int(msg.choice))
        else:
            deadline = parse_day(msg.text, today) if msg.kind is Kind.text else None
        if deadline is None:
            ctx.say(ctx.t("没看懂这个日期，请点按钮或输入如 12-05。"))
        elif deadline < today:
            ctx.say(ctx.t("期限不能早于今天。"))
        elif deadline > today + dt.timedelta(days=366):
            ctx.say(ctx.t("期限太远了，请在一年之内。"))
        else:
            ctx.data["deadline"] = deadline.isoformat()
            await ctx.goto("confirm")
            return
        await ctx.ask_again()

    async def ask_confirm(ctx: Ctx):
        t, d = ctx.t, ctx.data
        zone = await ctx.session.get(Zone, d["zone_id"])
        who = d["assignee_text"] or (await ctx.session.get(Member, d["assignee_id"])).name
        grade, category = GRADES[d["grade"]], d["category"]
        lines = [t("请确认："),
                 t("{grade} · {category} · {zone}").format(grade=t(grade), category=t(category),
                                                          zone=zone.name),
                 d["description"],
                 t("整改要求：{requirement}").format(requirement=d["requirement"] or "—"),
                 t("整改责任人：{who}").format(who=who),
                 t("整改期限：{deadline}").format(deadline=d["deadline"]),
                 t("照片 {n} 张").format(n=len(d["photos"]))]
        return Choices("\n".join(lines), (Option(t("确认提交"), "yes"),))

    @flow.step("confirm", accepts={Kind.choice}, ask=ask_confirm)
    async def confirmed(ctx: Ctx, msg: Incoming) -> None:
        if msg.choice != "yes":
            await ctx.ask_again()
            return
        hazard = await save(ctx)
        ctx.finish()
        await announce(ctx, hazard)

    return flow


async def start_report(ctx: Ctx, flow: Flow, first: Incoming | None = None) -> None:
    """Begin a report, with a photo already sent and the open patrol's zone as default."""
    patrol = await patrol_store.open_patrol(ctx.session, ctx.member.id)
    data = {"photos": [], "patrol_id": patrol.id if patrol else None,
            "default_zone": patrol.zone_id if patrol else
            (ctx.member.zones[0].id if ctx.member.zones else None)}
    if first is not None:
        await take_photo(ctx, first, data["photos"])
    ctx.dialog = None
    await ctx.start(flow, data)


async def save(ctx: Ctx) -> Hazard:
    d, now = ctx.data, ctx.now
    year = local(ctx, now).year
    number = await store.next_number(ctx.session, ctx.member.project_id, year)
    hazard = Hazard(
        project_id=ctx.member.project_id, year=year, number=number, zone_id=d["zone_id"],
        patrol_id=d.get("patrol_id"), category=d["category"], grade=d["grade"],
        description=d["description"], requirement=d["requirement"], reporter_id=ctx.member.id,
        assignee_id=d["assignee_id"], assignee_text=d["assignee_text"],
        deadline=dt.date.fromisoformat(d["deadline"]), status=HazardStatus.open.value,
        created_at=now,
        photos=[HazardPhoto(stage="before", media_name=p["name"], evidence=p["evidence"],
                            added_at=now) for p in d["photos"]],
    )
    ctx.session.add(hazard)
    await ctx.session.flush()
    await store.record(ctx.session, hazard, ctx.member.id, "reported", now)
    if d.get("violation_id"):  # an officer turned a violation report into this hazard
        report = await ctx.session.get(ViolationReport, d["violation_id"])
        report.status, report.hazard_id, report.closed_at = "hazard", hazard.id, now
    return await store.load(ctx.session, hazard.id)


async def announce(ctx: Ctx, hazard: Hazard) -> None:
    """The notice to the reporter and the assignee; a 重大隐患 also to the officers at once."""
    t, today = ctx.t, local(ctx, ctx.now).date()
    ctx.say(t("✅ 已登记：{number}").format(number=hazard.notice_number))
    ctx.send(await notice_pdf(t, hazard, media(ctx), ctx.config.tz))
    default = ctx.config.locale.default
    if hazard.assignee is not None and hazard.assignee_id != ctx.member.id:
        tr = translator_for(hazard.assignee, default)
        ctx.notify(Notice(hazard.assignee_id, (
            Text(tr("您有一份隐患整改通知书：") + "\n" + summary(tr, hazard, today)),
            await notice_pdf(tr, hazard, media(ctx), ctx.config.tz),
            Choices(tr("整改时请点按钮："), (Option(tr("开始整改"), f"/rectify {ref(hazard)} start"),
                                            Option(tr("提交整改"), f"/rectify {ref(hazard)}"))),
        ), kind="hazard_assigned", key=f"hazard_assigned:{hazard.id}"))
    if hazard.grade == "major":
        for officer in await store.members_with_roles(ctx.session, hazard.project_id, OFFICERS):
            if officer.id == ctx.member.id:
                continue
            tr = translator_for(officer, default)
            ctx.notify(Notice(officer.id, (
                Text(tr("⚠️ 重大隐患：{reporter} 刚刚报告").format(reporter=hazard.reporter.name)
                     + "\n" + summary(tr, hazard, today)),
                await notice_pdf(tr, hazard, media(ctx), ctx.config.tz),
            ), kind="hazard_major", key=f"hazard_major:{hazard.id}:{officer.id}"))
