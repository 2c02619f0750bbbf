"""SQLAlchemy models: the directory (projects, zones, members), chat identities,
invite codes, dialog state and de-duplication marks.

Times are stored as naive UTC and handed back as aware UTC (see UTCDateTime),
so SQLite and PostgreSQL behave the same.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, naive UTC on disk."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class ZoneKind(str, enum.Enum):
    office = "办公区"
    living = "生活区"
    site = "施工现场"


class Role(str, enum.Enum):
    member = "member"
    vanguard = "vanguard"
    leader = "leader"
    secretary = "secretary"
    safety_officer = "safety_officer"
    committee = "committee"
    assignee = "assignee"
    worker = "worker"
    union = "union"  # 工会: runs 行为安全之星 with the branch


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    branch: Mapped[str] = mapped_column(sa.String(200))  # the project's Party branch

    zones: Mapped[list[Zone]] = relationship(back_populates="project", order_by="Zone.id")


class Zone(Base):
    __tablename__ = "zones"
    __table_args__ = (sa.UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))  # a ZoneKind value
    # Optional geofence: all three or none.
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    radius_m: Mapped[int | None] = mapped_column(sa.Integer)

    project: Mapped[Project] = relationship(back_populates="zones")


member_zones = sa.Table(
    "member_zones",
    Base.metadata,
    sa.Column("member_id", sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("zone_id", sa.ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True),
)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (sa.UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    leave_until: Mapped[dt.date | None] = mapped_column(sa.Date)
    # WeCom users are known by their userid from the import: no invite code needed.
    wecom_userid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8))  # chosen with /lang
    crew: Mapped[str | None] = mapped_column(sa.String(100))  # 班组: a worker's labour team
    trade: Mapped[str | None] = mapped_column(sa.String(50))  # 工种: 钢筋工, 架子工...
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()
    roles: Mapped[list[MemberRole]] = relationship(
        cascade="all, delete-orphan", order_by="MemberRole.role"
    )
    zones: Mapped[list[Zone]] = relationship(secondary=member_zones, order_by="Zone.id")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class MemberRole(Base):
    __tablename__ = "member_roles"

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # a Role value


class Identity(Base):
    """A chat account (platform + the platform's user id) bound to a member."""

    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    external_id: Mapped[str] = mapped_column(sa.String(128))
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    bound_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Set when the platform says the user can no longer be reached (blocked the bot).
    unreachable_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()


class InviteCode(Base):
    """Single-use code that binds a chat account. Only its hash is kept."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()


class AttemptCounter(Base):
    """Failed attempts per key within a window (wrong invite codes, and later receipts)."""

    __tablename__ = "attempt_counters"

    key: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)


class DialogState(Base):
    """Where one user stands in one conversation, so it survives restarts."""

    __tablename__ = "dialog_states"

    platform: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    flow: Mapped[str] = mapped_column(sa.String(64))
    step: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Changes with every question asked, so a button from an older question is recognised.
    token: Mapped[str] = mapped_column(sa.String(16))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ProcessedMessage(Base):
    """A platform message already handled: a redelivery is ignored."""

    __tablename__ = "processed_messages"

    platform: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Patrol(Base):
    """A member's personal patrol of a zone: open while ended_at is empty."""

    __tablename__ = "patrols"
    __table_args__ = (
        # At most one open patrol per member, kept by the database itself.
        sa.Index("uq_patrols_open_member", "member_id", unique=True,
                 sqlite_where=sa.text("ended_at IS NULL"),
                 postgresql_where=sa.text("ended_at IS NULL")),
        sa.Index("ix_patrols_project_started", "project_id", "started_at"),
        sa.Index("ix_patrols_member_started", "member_id", "started_at"),
        # Everything the week totals read, by start: all projects' week is read from this
        # index alone, without visiting the table (migration 0008).
        sa.Index("ix_patrols_started_credit", "started_at", "ended_at", "member_id",
                 "credited_until", "off_site", "accepted", "logged_afterwards", "auto_closed"),
        # Off-site patrols awaiting the safety officer: few rows, found without a scan.
        # (Each predicate as SQLAlchemy renders the query's, so the planner matches it.)
        sa.Index("ix_patrols_off_site_undecided", "ended_at",
                 sqlite_where=sa.text("off_site = 1 AND accepted IS NULL"),
                 postgresql_where=sa.text("off_site AND accepted IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("zones.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    start_latitude: Mapped[float | None] = mapped_column(sa.Float)
    start_longitude: Mapped[float | None] = mapped_column(sa.Float)
    end_latitude: Mapped[float | None] = mapped_column(sa.Float)
    end_longitude: Mapped[float | None] = mapped_column(sa.Float)
    off_site: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # started outside the geofence
    logged_afterwards: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    auto_closed: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # left open, closed at the cap
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The last message, photo or location the member sent while it was open (ruling 3);
    # its start counts too.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Counted only up to here (a forgotten patrol: its last sign of life); empty: all of it.
    credited_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # An off-site patrol counts once a safety officer accepts it; empty while undecided.
    accepted: Mapped[bool | None] = mapped_column(sa.Boolean)
    accepted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("members.id", ondelete="SET NULL"))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    zone: Mapped[Zone | None] = relationship()


class PatrolPhoto(Base):
    """A photo taken during a patrol (the hazard flow may turn it into a report)."""

    __tablename__ = "patrol_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patrols.id", ondelete="CASCADE"), index=True
    )
    media_name: Mapped[str] = mapped_column(sa.String(200))
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TeamPatrol(Base):
    """The vanguard team's whole-site patrol: counts for the project, in wall-clock time."""

    __tablename__ = "team_patrols"
    __table_args__ = (
        sa.Index("uq_team_patrols_open_project", "project_id", unique=True,
                 sqlite_where=sa.text("ended_at IS NULL"),
                 postgresql_where=sa.text("ended_at IS NULL")),
        sa.Index("ix_team_patrols_project_started", "project_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    leader_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    joint_with_safety: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 联合安监
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    auto_closed: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class TeamPatrolMember(Base):
    __tablename__ = "team_patrol_members"

    team_patrol_id: Mapped[int] = mapped_column(
        sa.ForeignKey("team_patrols.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class HazardStatus(str, enum.Enum):
    open = "open"  # 待整改
    rectifying = "rectifying"  # 整改中
    review = "review"  # 待复查
    closed = "closed"  # 已销项


class ViolationStatus(str, enum.Enum):
    new = "new"  # 待处理
    confirmed = "confirmed"  # 属实，已处理
    unfounded = "unfounded"  # 经核查不属实
    hazard = "hazard"  # 已转为隐患整改


class LeaveStatus(str, enum.Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


def status_column(kind: type[enum.Enum]) -> sa.Enum:
    """A status stored by its name in a plain VARCHAR(16) (no database enum type, no
    CHECK): adding a status later needs no migration."""
    return sa.Enum(kind, native_enum=False, create_constraint=False, length=16)


class Hazard(Base):
    """A hazard found on site and its rectification notice (整改通知书)."""

    __tablename__ = "hazards"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "year", "number"),
        sa.Index("ix_hazards_project_status", "project_id", "status"),
        sa.Index("ix_hazards_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(sa.Integer)
    number: Mapped[int] = mapped_column(sa.Integer)  # per project and year
    zone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("zones.id", ondelete="SET NULL"))
    patrol_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patrols.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(sa.String(32))
    grade: Mapped[str] = mapped_column(sa.String(8))  # general | major
    description: Mapped[str] = mapped_column(sa.Text)
    requirement: Mapped[str | None] = mapped_column(sa.Text)
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="RESTRICT"))
    # A member with the assignee role, or a crew / subcontractor named in text.
    assignee_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("members.id", ondelete="SET NULL"), index=True)
    assignee_text: Mapped[str | None] = mapped_column(sa.String(200))
    deadline: Mapped[dt.date] = mapped_column(sa.Date)
    status: Mapped[HazardStatus] = mapped_column(status_column(HazardStatus))
    measures: Mapped[str | None] = mapped_column(sa.Text)  # what was done, from the rectifier
    rectified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    rectified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rechecked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()
    zone: Mapped[Zone | None] = relationship()
    reporter: Mapped[Member] = relationship(foreign_keys=[reporter_id])
    assignee: Mapped[Member | None] = relationship(foreign_keys=[assignee_id])
    rectified_by: Mapped[Member | None] = relationship(foreign_keys=[rectified_by_id])
    rechecked_by: Mapped[Member | None] = relationship(foreign_keys=[rechecked_by_id])
    photos: Mapped[list[HazardPhoto]] = relationship(order_by="HazardPhoto.id",
                                                     cascade="all, delete-orphan")

    @property
    def notice_number(self) -> str:
        return f"红盾整改〔{self.year}〕{self.number:04d}号"


class HazardPhoto(Base):
    """Evidence: a photo before (finding) or after (rectification)."""

    __tablename__ = "hazard_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(8))  # before | after
    media_name: Mapped[str] = mapped_column(sa.String(200))
    # Evidence metadata read from the original (taken at, device, GPS), kept as found.
    evidence: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class HazardEvent(Base):
    """The hazard's history: every change, who made it and when."""

    __tablename__ = "hazard_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[HazardStatus] = mapped_column(status_column(HazardStatus))  # after the change
    note: Mapped[str | None] = mapped_column(sa.Text)


class HazardCounter(Base):
    """The last notice number used per project and year."""

    __tablename__ = "hazard_counters"

    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    last: Mapped[int] = mapped_column(sa.Integer)


class ViolationReport(Base):
    """A worker's report of unsafe behaviour. Holds nothing that points at who sent
    it unless they chose to be named: no account, no chat, an hour-coarse time."""

    __tablename__ = "violation_reports"
    __table_args__ = (sa.Index("ix_violation_reports_project_status", "project_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("zones.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(32))  # 未戴安全帽, 违章作业, ...
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ViolationStatus] = mapped_column(status_column(ViolationStatus))
    receipt_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    named_member_id: Mapped[int | None] = mapped_column(  # only for 实名举报
        sa.ForeignKey("members.id", ondelete="SET NULL"))
    hazard_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hazards.id", ondelete="SET NULL"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # to the hour
    officers_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notify_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # a random moment
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()
    zone: Mapped[Zone | None] = relationship()
    entries: Mapped[list[ViolationEntry]] = relationship(
        order_by="ViolationEntry.id", cascade="all, delete-orphan")


class ViolationEntry(Base):
    """A photo or a message on a report: from the reporter (never identified) or
    an officer's reply, which the reporter reads through /track."""

    __tablename__ = "violation_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("violation_reports.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(sa.String(8))  # reporter | officer
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(sa.Text)
    media_name: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # to the hour for the reporter's


class DailyKey(Base):
    """A random key per day for keyed hashes of user ids (abuse limits). Deleted after
    two days, after which yesterday's hashes can no longer be tied to anyone."""

    __tablename__ = "daily_keys"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    secret: Mapped[str] = mapped_column(sa.String(64))


class DailyCount(Base):
    """How many reports one (keyed-hashed) sender made on a day."""

    __tablename__ = "daily_counts"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    sender: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)


class OutboxMessage(Base):
    """A message the bot sends on its own, written in the transaction that decided
    to send it; the delivery worker sends it and marks it. The key makes a second
    enqueue of the same message (a job run twice, two schedulers) a no-op."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)  # kind:recipient:period
    kind: Mapped[str] = mapped_column(sa.String(32))
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    payload: Mapped[list] = mapped_column(sa.JSON)  # the replies, serialised
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # a worker is sending it
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # given up: permanent failure
    last_error: Mapped[str | None] = mapped_column(sa.String(300))


class JobRun(Base):
    """When each scheduled job last ran, so one missed while the bot was down runs on restart."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LeaveRequest(Base):
    """/leave: a member asks, the branch secretary approves; approved leave sets leave_until."""

    __tablename__ = "leave_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    start: Mapped[dt.date] = mapped_column(sa.Date)
    until: Mapped[dt.date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[LeaveStatus] = mapped_column(status_column(LeaveStatus))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship(foreign_keys=[member_id])


class SendLimit(Base):
    """The platforms' platform-wide sending limits shared by every process when no Redis
    is configured: per key (a platform's overall count, its pause) the taken slots or
    moments, as text; `until` (seconds since the epoch, the database's clock) is when
    they stop mattering. A chat's pace never comes here (bot/limits.py, ChatsApart)."""

    __tablename__ = "send_limits"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    times: Mapped[str] = mapped_column(sa.Text, default="")
    until: Mapped[float] = mapped_column(sa.Float, default=0.0, index=True)


# ---- 行为安全之星 (stars): points, the monthly star, 群星闪耀 activities


class StarEntry(Base):
    """One change to a worker's points: a star given (点赞), a reward for one of the bot's
    own events, a deduction, or the withdrawal of an earlier entry. The ledger is only
    ever added to: a withdrawal is a new entry pointing at the one it cancels."""

    __tablename__ = "star_entries"
    __table_args__ = (
        # An event credits a worker once (a report confirmed twice over never pays twice).
        sa.UniqueConstraint("worker_id", "ref"),
        sa.Index("ix_star_entries_project_at", "project_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    points: Mapped[int] = mapped_column(sa.Integer)  # negative for deductions and withdrawals
    source: Mapped[str] = mapped_column(sa.String(16))  # star | event | deduction | withdrawal
    # What it is for: the behaviour (a star), the event's rule name, the violation (a deduction).
    reason: Mapped[str] = mapped_column(sa.String(100))
    note: Mapped[str | None] = mapped_column(sa.Text)  # the giver's note; why, for a deduction or withdrawal
    photo: Mapped[str | None] = mapped_column(sa.String(200))  # a media store name
    given_by_id: Mapped[int | None] = mapped_column(  # None: the bot's own event
        sa.ForeignKey("members.id", ondelete="SET NULL"))
    ref: Mapped[str | None] = mapped_column(sa.String(64))  # the event credited: "violation:12"
    withdraws_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("star_entries.id", ondelete="CASCADE"), unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StarReward(Base):
    """An anonymous reporter's reward: credited to the receipt of a report confirmed 属实,
    claimed once when the union enters the code. Nothing says who claimed it; both times
    are kept to the hour."""

    __tablename__ = "star_rewards"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("violation_reports.id", ondelete="SET NULL"), unique=True)
    points: Mapped[int] = mapped_column(sa.Integer)
    reason: Mapped[str] = mapped_column(sa.String(100))  # the event's rule name
    credited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # to the hour
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # to the hour


class StarAward(Base):
    """A month's 行为安全之星 of a project: proposed from the ranking on the 1st, then
    confirmed, replaced (by the next in the ranking) or skipped by the union or secretary."""

    __tablename__ = "star_awards"
    __table_args__ = (sa.UniqueConstraint("project_id", "month", "worker_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    month: Mapped[dt.date] = mapped_column(sa.Date)  # its first day
    worker_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(sa.Integer)  # place in the month's ranking
    points: Mapped[int] = mapped_column(sa.Integer)  # the month's points when proposed
    status: Mapped[str] = mapped_column(sa.String(12))  # proposed | confirmed | replaced | skipped
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Whether the worker lets their name be shown to others (RULINGS 11): None until they
    # answer, which counts as no.
    public: Mapped[bool | None] = mapped_column(sa.Boolean)
    consent_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    announced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StarActivity(Base):
    """A 群星闪耀 activity the union or branch held: 为工友送安全, a competition, ..."""

    __tablename__ = "star_activities"
    __table_args__ = (sa.Index("ix_star_activities_project_day", "project_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    day: Mapped[dt.date] = mapped_column(sa.Date)
    place: Mapped[str] = mapped_column(sa.String(200))
    headcount: Mapped[int] = mapped_column(sa.Integer)
    note: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    photos: Mapped[list[StarActivityPhoto]] = relationship(
        order_by="StarActivityPhoto.id", cascade="all, delete-orphan")


class StarActivityPhoto(Base):
    __tablename__ = "star_activity_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("star_activities.id", ondelete="CASCADE"), index=True)
    media_name: Mapped[str] = mapped_column(sa.String(200))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# ---- 红盾课堂 (lessons), the question bank and quizzes, zone education records


class Lesson(Base):
    """A 红盾课堂 lesson: planned by the secretary, run by its organiser, complete once its
    photos, materials and summary are in."""

    __tablename__ = "lessons"
    __table_args__ = (sa.Index("ix_lessons_project_starts", "project_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    form: Mapped[str] = mapped_column(sa.String(32))  # 党课, 主题党日, 小品, 安全培训, ...
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(sa.String(200))
    audience: Mapped[str] = mapped_column(sa.String(16))  # managers | workers | all | crews
    crews: Mapped[list] = mapped_column(sa.JSON, default=list)  # the chosen 班组, for "crews"
    organiser_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    planned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    # Shown by the organiser during the lesson; valid only in its check-in window.
    checkin_code: Mapped[str | None] = mapped_column(sa.String(16))
    headcount: Mapped[int | None] = mapped_column(sa.Integer)  # people on the paper sheet
    summary: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # record complete
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # the audience, before
    record_reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # the organiser, after
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    files: Mapped[list[LessonFile]] = relationship(order_by="LessonFile.id", cascade="all, delete-orphan")


class LessonFile(Base):
    """What a lesson leaves behind: photos, the paper sign-in sheet, materials (a PDF
    kept in the media store, or a link to a video)."""

    __tablename__ = "lesson_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # photo | signin | document | link
    media_name: Mapped[str | None] = mapped_column(sa.String(200))
    url: Mapped[str | None] = mapped_column(sa.String(500))
    title: Mapped[str | None] = mapped_column(sa.String(200))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LessonAttendance(Base):
    """A member who checked in to a lesson with its code."""

    __tablename__ = "lesson_attendance"

    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    checked_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Question(Base):
    """A question of the bank (`redshield questions import`), shared by every project."""

    __tablename__ = "questions"
    __table_args__ = (sa.UniqueConstraint("category", "text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(100))  # e.g. a JGJ 59 item: 脚手架
    text: Mapped[str] = mapped_column(sa.String(500))
    options: Mapped[list] = mapped_column(sa.JSON)  # 2 to 5 texts
    answer: Mapped[int] = mapped_column(sa.Integer)  # index into options
    explanation: Mapped[str | None] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Quiz(Base):
    """A quiz after a lesson, or a project's 安全知识技能竞赛 over a date range."""

    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[str | None] = mapped_column(sa.String(100))  # None: any
    question_count: Mapped[int] = mapped_column(sa.Integer)
    attempts: Mapped[int] = mapped_column(sa.Integer)  # per person
    opens_on: Mapped[dt.date] = mapped_column(sa.Date)
    closes_on: Mapped[dt.date] = mapped_column(sa.Date)  # the last day, inclusive
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class QuizAttempt(Base):
    """One person's go at a quiz: the questions drawn, the answers given, the score."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (sa.Index("ix_quiz_attempts_quiz_member", "quiz_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("quizzes.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    question_ids: Mapped[list] = mapped_column(sa.JSON)
    answers: Mapped[list] = mapped_column(sa.JSON, default=list)  # option index per question answered
    score: Mapped[int] = mapped_column(sa.Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EduRecord(Base):
    """责任区 education a member held in their zone: a 晨会, 班前讲话, 专题培训 or 谈心谈话
    (of a 谈心谈话 only who talked with how many, and the topic: never what was said)."""

    __tablename__ = "edu_records"
    __table_args__ = (sa.Index("ix_edu_records_project_day", "project_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("zones.id", ondelete="SET NULL"))
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    topic: Mapped[str] = mapped_column(sa.String(200))
    crew: Mapped[str | None] = mapped_column(sa.String(100))
    headcount: Mapped[int] = mapped_column(sa.Integer)
    photo: Mapped[str | None] = mapped_column(sa.String(200))
    day: Mapped[dt.date] = mapped_column(sa.Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
