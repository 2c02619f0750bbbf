"""stars: workers' crews and trades, the points ledger, rewards, awards, activities

Additive: two nullable columns on members (班组, 工种) and five new tables for
行为安全之星 and 群星闪耀.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 11:56:45.375617
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('star_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_star_activities_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['members.id'], name=op.f('fk_star_activities_recorded_by_id_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_star_activities'))
    )
    with op.batch_alter_table('star_activities', schema=None) as batch_op:
        batch_op.create_index('ix_star_activities_project_day', ['project_id', 'day'], unique=False)

    op.create_table('star_awards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=True),
    sa.Column('consent_asked_at', sa.DateTime(), nullable=True),
    sa.Column('announced_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['members.id'], name=op.f('fk_star_awards_decided_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_star_awards_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['members.id'], name=op.f('fk_star_awards_worker_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_star_awards')),
    sa.UniqueConstraint('project_id', 'month', 'worker_id', name=op.f('uq_star_awards_project_id_month_worker_id'))
    )
    with op.batch_alter_table('star_awards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_star_awards_worker_id'), ['worker_id'], unique=False)

    op.create_table('star_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('photo', sa.String(length=200), nullable=True),
    sa.Column('given_by_id', sa.Integer(), nullable=True),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('withdraws_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['given_by_id'], ['members.id'], name=op.f('fk_star_entries_given_by_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_star_entries_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['withdraws_id'], ['star_entries.id'], name=op.f('fk_star_entries_withdraws_id_star_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['members.id'], name=op.f('fk_star_entries_worker_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_star_entries')),
    sa.UniqueConstraint('withdraws_id', name=op.f('uq_star_entries_withdraws_id')),
    sa.UniqueConstraint('worker_id', 'ref', name=op.f('uq_star_entries_worker_id_ref'))
    )
    with op.batch_alter_table('star_entries', schema=None) as batch_op:
        batch_op.create_index('ix_star_entries_project_at', ['project_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_star_entries_worker_id'), ['worker_id'], unique=False)

    op.create_table('star_activity_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('media_name', sa.String(length=200), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['star_activities.id'], name=op.f('fk_star_activity_photos_activity_id_star_activities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_star_activity_photos'))
    )
    with op.batch_alter_table('star_activity_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_star_activity_photos_activity_id'), ['activity_id'], unique=False)

    op.create_table('star_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('credited_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_star_rewards_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['violation_reports.id'], name=op.f('fk_star_rewards_report_id_violation_reports'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_star_rewards')),
    sa.UniqueConstraint('report_id', name=op.f('uq_star_rewards_report_id'))
    )
    with op.batch_alter_table('star_rewards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_star_rewards_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crew', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('trade', sa.String(length=50), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('trade')
        batch_op.drop_column('crew')

    with op.batch_alter_table('star_rewards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_star_rewards_project_id'))

    op.drop_table('star_rewards')
    with op.batch_alter_table('star_activity_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_star_activity_photos_activity_id'))

    op.drop_table('star_activity_photos')
    with op.batch_alter_table('star_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_star_entries_worker_id'))
        batch_op.drop_index('ix_star_entries_project_at')

    op.drop_table('star_entries')
    with op.batch_alter_table('star_awards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_star_awards_worker_id'))

    op.drop_table('star_awards')
    with op.batch_alter_table('star_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_star_activities_project_day')

    op.drop_table('star_activities')
