"""红盾课堂: the branch's safety lessons (planned, announced, checked in, recorded), the
question bank with quizzes and 安全知识技能竞赛, and the education each member gives in
their responsibility zone (晨会, 班前讲话, 专题培训, 谈心谈话)."""
from __future__ import annotations

from bot.core.registry import Registry


def register(registry: Registry) -> None:
    from handlers.lessons import checkin, demo, edu, plan, quiz, record, views

    for part in (plan, checkin, record, quiz, edu, views, demo):
        part.register(registry)
