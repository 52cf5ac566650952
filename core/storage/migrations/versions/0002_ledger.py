"""ledger: accounts, transfers, tiers; community settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:10:34.519589
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.storage.types


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('community_settings',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_settings_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'key', name=op.f('pk_community_settings'))
    )
    op.create_table('ledger_tiers',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('multiplier_pct', sa.Integer(), nullable=False),
    sa.CheckConstraint('multiplier_pct BETWEEN 0 AND 1000', name=op.f('ck_ledger_tiers_multiplier_range')),
    sa.CheckConstraint('threshold >= 0', name=op.f('ck_ledger_tiers_threshold_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_ledger_tiers_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'name', name=op.f('pk_ledger_tiers'))
    )
    op.create_table('ledger_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('earned', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('(member_id IS NULL) <> (code IS NULL)', name=op.f('ck_ledger_accounts_member_or_system')),
    sa.CheckConstraint('member_id IS NULL OR balance >= 0', name=op.f('ck_ledger_accounts_member_not_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_ledger_accounts_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_ledger_accounts_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('community_id', 'code', name='uq_ledger_accounts_code'),
    sa.UniqueConstraint('community_id', 'member_id', name='uq_ledger_accounts_member')
    )
    op.create_table('ledger_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('actor_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', core.storage.types.UTCDateTime(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_ledger_transfers_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_ledger_transfers_distinct_accounts')),
    sa.ForeignKeyConstraint(['actor_member_id'], ['members.id'], name=op.f('fk_ledger_transfers_actor_member_id_members')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_ledger_transfers_community_id_communities')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_transfers_credit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_transfers_debit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_transfers.id'], name=op.f('fk_ledger_transfers_reverses_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transfers')),
    sa.UniqueConstraint('community_id', 'idempotency_key', name='uq_ledger_transfers_key')
    )
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_transfers_actor_at', ['actor_member_id', 'at'], unique=False, sqlite_where=sa.text('actor_member_id IS NOT NULL'), postgresql_where=sa.text('actor_member_id IS NOT NULL'))
        batch_op.create_index('ix_ledger_transfers_community_kind_at', ['community_id', 'kind', 'at'], unique=False)
        batch_op.create_index('ix_ledger_transfers_credit_at', ['credit_account_id', 'at'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit_at', ['debit_account_id', 'at'], unique=False)
        batch_op.create_index('uq_ledger_transfers_reverses', ['reverses_id'], unique=True, sqlite_where=sa.text('reverses_id IS NOT NULL'), postgresql_where=sa.text('reverses_id IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_transfers_reverses', sqlite_where=sa.text('reverses_id IS NOT NULL'), postgresql_where=sa.text('reverses_id IS NOT NULL'))
        batch_op.drop_index('ix_ledger_transfers_debit_at')
        batch_op.drop_index('ix_ledger_transfers_credit_at')
        batch_op.drop_index('ix_ledger_transfers_community_kind_at')
        batch_op.drop_index('ix_ledger_transfers_actor_at', sqlite_where=sa.text('actor_member_id IS NOT NULL'), postgresql_where=sa.text('actor_member_id IS NOT NULL'))

    op.drop_table('ledger_transfers')
    op.drop_table('ledger_accounts')
    op.drop_table('ledger_tiers')
    op.drop_table('community_settings')
