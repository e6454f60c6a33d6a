"""`syncline_split(text)`: a text array passed as one parameter, values joined by the ASCII
record separator (0x1E), the unit separator (0x1F) standing for NULL (see
`syncruntime.postgres.joined`). Batch statements pass columns of hundreds of values; asyncpg
checks each element of a list parameter in Python, a joined string costs next to nothing.
A SQL function, immutable, so the planner inlines it.

Revision ID: 0204
Revises: 0203
"""

from __future__ import annotations

from alembic import op

revision = "0204"
down_revision = "0203"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION syncline_split(joined text) RETURNS text[]
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            RETURN string_to_array(joined, E'\\x1e', E'\\x1f')
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS syncline_split(text)")
