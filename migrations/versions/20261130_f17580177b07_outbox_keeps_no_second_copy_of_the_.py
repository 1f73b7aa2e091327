"""outbox keeps no second copy of the recipient

Revision ID: f17580177b07
Revises: b179733c56df
Create Date: 2026-11-30 01:33:45.062777

Reviewed by hand before commit: a new NOT NULL column needs a server_default, SQLite changes go
through batch_alter_table, and downgrade() must undo upgrade() (tests/test_migrations.py).

A queued mail kept its recipient's address twice, each encrypted by the key ring: in the message
(its To header, which is what delivery reads for the envelope) and in `recipient_ct`, which
nothing read. The second copy goes. Downgrading brings the column back nullable: messages queued
in between have their address in their message only, which is all delivery ever read, and the
older code's key rotation skips a NULL value.
"""
from alembic import op
import sqlalchemy as sa

import campaign.models.base


# revision identifiers, used by Alembic.
revision = 'f17580177b07'
down_revision = 'b179733c56df'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('recipient_ct')


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_ct', sa.LargeBinary(), nullable=True))
