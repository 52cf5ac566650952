"""system accounts' balance changes in stripes (ledger_balance_stripes), so ledger batches of
one community do not all lock and update one issuance row

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 23:55:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ledger_balance_stripes',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stripe', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('earned', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_balance_stripes_account_id_ledger_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'stripe', name=op.f('pk_ledger_balance_stripes'))
    )


def downgrade() -> None:
    # The stripes folded back into their accounts' rows first: no balance is lost.
    op.execute(
        "UPDATE ledger_accounts SET"
        " balance = balance + (SELECT COALESCE(SUM(s.balance), 0) FROM ledger_balance_stripes s WHERE s.account_id = ledger_accounts.id),"
        " earned = earned + (SELECT COALESCE(SUM(s.earned), 0) FROM ledger_balance_stripes s WHERE s.account_id = ledger_accounts.id)"
    )
    op.drop_table('ledger_balance_stripes')
