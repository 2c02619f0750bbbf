"""Who is who on a project: the directory's role names, and the named sets of them
that the rules use. A rule asks for a set by what it means, not by listing names."""
from __future__ import annotations

from storage.models import Role

MEMBER = Role.member.value
VANGUARD = Role.vanguard.value  # 党员安全生产先锋队 member
LEADER = Role.leader.value  # the vanguard team's leader
SECRETARY = Role.secretary.value  # 党支部书记
SAFETY_OFFICER = Role.safety_officer.value  # 安监
COMMITTEE = Role.committee.value  # 分公司党委: every project
ASSIGNEE = Role.assignee.value  # 整改责任人, often a subcontractor's crew lead
WORKER = Role.worker.value  # 工友
UNION = Role.union.value  # 工会: leads 行为安全之星 with the branch

# Run the project's safety: alerted of 重大隐患 and close them, read violation reports.
OFFICERS = frozenset({SAFETY_OFFICER, SECRETARY})
# See how the whole project does: the week's 2+2 table, overdue hazards, the weekly report.
SUPERVISORS = OFFICERS | {COMMITTEE}
# Start and end the team patrol.
ORGANISERS = frozenset({LEADER, SECRETARY})
# The vanguard team (先锋队), as the directory records it.
TEAM = frozenset({VANGUARD, LEADER})
# Take part in patrols: the Party members and the safety officers who walk with them.
PATROLLERS = frozenset({MEMBER, VANGUARD, LEADER, SECRETARY, SAFETY_OFFICER})
# Give a worker a star (点赞) and record 群星闪耀 activities: members, officers, the union.
STAR_GIVERS = PATROLLERS | {COMMITTEE, UNION}
# Run 行为安全之星: confirm the month's stars, hand out anonymous rewards (/redeem).
STAR_ORGANISERS = frozenset({UNION, SECRETARY})
# Plan 红盾课堂 lessons (and name who organises each).
LESSON_PLANNERS = frozenset({SECRETARY})
# Set quizzes and 安全知识技能竞赛.
QUIZ_SETTERS = frozenset({SECRETARY, SAFETY_OFFICER, UNION})
# Who 管理人员 are in a lesson's audience: everyone but these (RULINGS 13).
NOT_MANAGERS = frozenset({WORKER, ASSIGNEE})


def has(member, roles: frozenset[str] | str) -> bool:
    """Whether a member holds any of `roles` (a set, or one role name)."""
    wanted = {roles} if isinstance(roles, str) else roles
    return bool(member.role_names & wanted)
