"""patrol credit: last sign of life, credited end, off-site acceptance

Additive: five nullable columns on patrols and a partial index of the off-site
patrols awaiting a decision. Off-site patrols recorded before this revision were
counted in full (and reported so); they are marked accepted, with nobody named
as the one who accepted, so that past weeks keep the totals already sent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# The partial index's predicate as SQLAlchemy renders the queries' (a boolean is 0/1 in SQLite).
SQLITE_PARTIAL = "off_site = 1 AND accepted IS NULL"
PG_PARTIAL = "off_site AND accepted IS NULL"


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy of patrols: on SQLite the copy drops the old
    # table, and with foreign keys on that deletes every patrol photo (ON DELETE CASCADE).
    op.add_column('patrols', sa.Column('last_seen_at', sa.DateTime(), nullable=True))
    op.add_column('patrols', sa.Column('credited_until', sa.DateTime(), nullable=True))
    op.add_column('patrols', sa.Column('accepted', sa.Boolean(), nullable=True))
    op.add_column('patrols', sa.Column('accepted_at', sa.DateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # SQLite adds a foreign key only with its column, written in the column itself
        # (left in place by a downgrade, see there).
        if 'accepted_by_id' not in {c['name'] for c in sa.inspect(bind).get_columns('patrols')}:
            op.execute(sa.text(
                'ALTER TABLE patrols ADD COLUMN accepted_by_id INTEGER '
                'CONSTRAINT fk_patrols_accepted_by_id_members REFERENCES members (id) '
                'ON DELETE SET NULL'))
    else:
        op.add_column('patrols', sa.Column('accepted_by_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_patrols_accepted_by_id_members'), 'patrols', 'members',
                              ['accepted_by_id'], ['id'], ondelete='SET NULL')
    op.execute(sa.text("UPDATE patrols SET accepted = off_site WHERE off_site"))
    op.create_index('ix_patrols_off_site_undecided', 'patrols', ['ended_at'], unique=False,
                    sqlite_where=sa.text(SQLITE_PARTIAL), postgresql_where=sa.text(PG_PARTIAL))


def downgrade() -> None:
    op.drop_index('ix_patrols_off_site_undecided', table_name='patrols')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot drop a column that holds a foreign key without copying the table
        # (which would delete the photos, see upgrade): accepted_by_id stays, unused.
        pass
    else:
        op.drop_constraint(op.f('fk_patrols_accepted_by_id_members'), 'patrols',
                           type_='foreignkey')
        op.drop_column('patrols', 'accepted_by_id')
    for column in ('accepted_at', 'accepted', 'credited_until', 'last_seen_at'):
        op.drop_column('patrols', column)
