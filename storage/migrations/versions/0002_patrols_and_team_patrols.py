"""patrols and team patrols

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:51:59.670563
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patrols',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('start_latitude', sa.Float(), nullable=True),
    sa.Column('start_longitude', sa.Float(), nullable=True),
    sa.Column('end_latitude', sa.Float(), nullable=True),
    sa.Column('end_longitude', sa.Float(), nullable=True),
    sa.Column('off_site', sa.Boolean(), nullable=False),
    sa.Column('logged_afterwards', sa.Boolean(), nullable=False),
    sa.Column('auto_closed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_patrols_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_patrols_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_patrols_zone_id_zones'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrols'))
    )
    with op.batch_alter_table('patrols', schema=None) as batch_op:
        batch_op.create_index('ix_patrols_member_started', ['member_id', 'started_at'], unique=False)
        batch_op.create_index('ix_patrols_project_started', ['project_id', 'started_at'], unique=False)
        batch_op.create_index('uq_patrols_open_member', ['member_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('team_patrols',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('joint_with_safety', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('auto_closed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['leader_id'], ['members.id'], name=op.f('fk_team_patrols_leader_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_team_patrols_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_patrols'))
    )
    with op.batch_alter_table('team_patrols', schema=None) as batch_op:
        batch_op.create_index('ix_team_patrols_project_started', ['project_id', 'started_at'], unique=False)
        batch_op.create_index('uq_team_patrols_open_project', ['project_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('patrol_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patrol_id', sa.Integer(), nullable=False),
    sa.Column('media_name', sa.String(length=200), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrols.id'], name=op.f('fk_patrol_photos_patrol_id_patrols'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_photos'))
    )
    with op.batch_alter_table('patrol_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_photos_patrol_id'), ['patrol_id'], unique=False)

    op.create_table('team_patrol_members',
    sa.Column('team_patrol_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_team_patrol_members_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_patrol_id'], ['team_patrols.id'], name=op.f('fk_team_patrol_members_team_patrol_id_team_patrols'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_patrol_id', 'member_id', name=op.f('pk_team_patrol_members'))
    )


def downgrade() -> None:
    op.drop_table('team_patrol_members')
    with op.batch_alter_table('patrol_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_photos_patrol_id'))

    op.drop_table('patrol_photos')
    with op.batch_alter_table('team_patrols', schema=None) as batch_op:
        batch_op.drop_index('uq_team_patrols_open_project', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_team_patrols_project_started')

    op.drop_table('team_patrols')
    with op.batch_alter_table('patrols', schema=None) as batch_op:
        batch_op.drop_index('uq_patrols_open_member', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_patrols_project_started')
        batch_op.drop_index('ix_patrols_member_started')

    op.drop_table('patrols')
