"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Reviewed by hand before commit: a new NOT NULL column needs a server_default, SQLite changes go
through batch_alter_table, and downgrade() must undo upgrade() (tests/test_migrations.py).
"""
from alembic import op
import sqlalchemy as sa

import campaign.models.base
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
