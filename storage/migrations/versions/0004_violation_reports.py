"""violation reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:05:27.049344
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'sender', name=op.f('pk_daily_counts'))
    )
    op.create_table('daily_keys',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_daily_keys'))
    )
    op.create_table('violation_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('receipt_hash', sa.String(length=128), nullable=False),
    sa.Column('named_member_id', sa.Integer(), nullable=True),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('officers_notified_at', sa.DateTime(), nullable=True),
    sa.Column('notify_after', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_violation_reports_hazard_id_hazards'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['named_member_id'], ['members.id'], name=op.f('fk_violation_reports_named_member_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_violation_reports_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_violation_reports_zone_id_zones'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violation_reports')),
    sa.UniqueConstraint('receipt_hash', name=op.f('uq_violation_reports_receipt_hash'))
    )
    with op.batch_alter_table('violation_reports', schema=None) as batch_op:
        batch_op.create_index('ix_violation_reports_project_status', ['project_id', 'status'], unique=False)

    op.create_table('violation_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=8), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('media_name', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['officer_id'], ['members.id'], name=op.f('fk_violation_entries_officer_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['violation_reports.id'], name=op.f('fk_violation_entries_report_id_violation_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violation_entries'))
    )
    with op.batch_alter_table('violation_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_violation_entries_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('violation_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_violation_entries_report_id'))

    op.drop_table('violation_entries')
    with op.batch_alter_table('violation_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_violation_reports_project_status')

    op.drop_table('violation_reports')
    op.drop_table('daily_keys')
    op.drop_table('daily_counts')
