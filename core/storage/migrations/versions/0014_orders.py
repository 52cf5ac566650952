"""orders: indexes for the dashboard's order list (keyset by created_at, id; by state, by
product) and for one member's audit entries (an order's timeline)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:50:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_community_created', ['community_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(
            'ix_orders_community_status_created', ['community_id', 'status', 'created_at', 'id'], unique=False
        )
        batch_op.create_index(
            'ix_orders_community_product_created',
            ['community_id', 'product_kind', 'product_id', 'created_at', 'id'],
            unique=False,
        )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_subject_at', ['subject_member_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_subject_at')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_community_product_created')
        batch_op.drop_index('ix_orders_community_status_created')
        batch_op.drop_index('ix_orders_community_created')
