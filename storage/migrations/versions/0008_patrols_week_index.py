"""patrols: an index covering the week totals

Additive: one index on patrols, by start, holding every column the week totals
read, so that all projects' week is read from the index alone (an index-only scan
on PostgreSQL, a covering index on SQLite) instead of the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00.000000
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


COLUMNS = ['started_at', 'ended_at', 'member_id', 'credited_until', 'off_site', 'accepted',
           'logged_afterwards', 'auto_closed']


def upgrade() -> None:
    op.create_index('ix_patrols_started_credit', 'patrols', COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index('ix_patrols_started_credit', table_name='patrols')
