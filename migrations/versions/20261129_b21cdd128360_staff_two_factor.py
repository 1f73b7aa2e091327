"""staff two-factor: TOTP secret (encrypted), last used time step, enrolment date; recovery codes

Revision ID: b21cdd128360
Revises: fec1262e4c0c
Create Date: 2026-11-29 03:13:06.360731

Reviewed by hand before commit: a new NOT NULL column needs a server_default, SQLite changes go
through batch_alter_table, and downgrade() must undo upgrade() (tests/test_migrations.py).

Every staff session open before this revision was started with a password alone: they are all
ended, so everyone signs in again through the second factor (enrolling at that sign-in).
"""
from alembic import op
import sqlalchemy as sa

import campaign.models.base


# revision identifiers, used by Alembic.
revision = 'b21cdd128360'
down_revision = 'fec1262e4c0c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', campaign.models.base.UTCDateTime(), nullable=False),
    sa.Column('used_at', campaign.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret_ct', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('totp_enrolled_at', campaign.models.base.UTCDateTime(), nullable=True))

    op.execute(sa.text("DELETE FROM staff_sessions"))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_enrolled_at')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret_ct')

    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))

    op.drop_table('recovery_codes')
