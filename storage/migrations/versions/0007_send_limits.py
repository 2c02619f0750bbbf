"""send_limits: the platforms' sending limits shared by every process (without Redis)

Additive: one new table of short-lived rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('send_limits',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('times', sa.Text(), nullable=False),
    sa.Column('until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_send_limits'))
    )
    op.create_index(op.f('ix_send_limits_until'), 'send_limits', ['until'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_send_limits_until'), table_name='send_limits')
    op.drop_table('send_limits')
