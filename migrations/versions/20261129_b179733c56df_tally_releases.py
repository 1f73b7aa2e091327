"""tally releases: the ledger of anonymized tally snapshots (true counts encrypted)

Revision ID: b179733c56df
Revises: 67ac0675bea4
Create Date: 2026-11-29 03:15:42.746321

Reviewed by hand before commit: a new NOT NULL column needs a server_default, SQLite changes go
through batch_alter_table, and downgrade() must undo upgrade() (tests/test_migrations.py).
"""
from alembic import op
import sqlalchemy as sa

import campaign.models.base


# revision identifiers, used by Alembic.
revision = 'b179733c56df'
down_revision = '67ac0675bea4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tally_releases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('series', sa.Integer(), server_default='1', nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('dimensions', sa.String(length=32), server_default='', nullable=False),
    sa.Column('created_at', campaign.models.base.UTCDateTime(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('is_deferred', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('defer_reason', sa.String(length=32), nullable=True),
    sa.Column('ledger_ct', sa.LargeBinary(), nullable=True),
    sa.Column('public_data', sa.JSON(), nullable=True),
    sa.Column('is_published', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('published_at', campaign.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_tally_releases_petition_id_petitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tally_releases')),
    sa.UniqueConstraint('public_id', name=op.f('uq_tally_releases_public_id'))
    )
    with op.batch_alter_table('tally_releases', schema=None) as batch_op:
        batch_op.create_index('ix_tally_releases_petition_created', ['petition_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tally_releases', schema=None) as batch_op:
        batch_op.drop_index('ix_tally_releases_petition_created')

    op.drop_table('tally_releases')
