"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 15:57:59.650358
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qwentrade.adapters.sql.types import ExactDecimal, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_config")),
    )
    op.create_table(
        "etf_flow",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("net_flow_usd", sa.Double(), nullable=False),
        sa.Column("price_usd", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", "date", name=op.f("pk_etf_flow")),
    )
    op.create_table(
        "fear_greed",
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("classification", sa.String(length=32), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("time", name=op.f("pk_fear_greed")),
    )
    op.create_table(
        "funding_rate",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("funding_rate", ExactDecimal(), nullable=False),
        sa.Column("realized_rate", ExactDecimal(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_funding_rate")),
    )
    op.create_table(
        "klines_15m",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("ema_9", sa.Double(), nullable=True),
        sa.Column("ema_21", sa.Double(), nullable=True),
        sa.Column("ema_55", sa.Double(), nullable=True),
        sa.Column("rsi_7", sa.Double(), nullable=True),
        sa.Column("macd_line", sa.Double(), nullable=True),
        sa.Column("signal_line", sa.Double(), nullable=True),
        sa.Column("histogram", sa.Double(), nullable=True),
        sa.Column("bb_upper", sa.Double(), nullable=True),
        sa.Column("bb_middle", sa.Double(), nullable=True),
        sa.Column("bb_lower", sa.Double(), nullable=True),
        sa.Column("bb_width", sa.Double(), nullable=True),
        sa.Column("atr_14", sa.Double(), nullable=True),
        sa.Column("obv", sa.Double(), nullable=True),
        sa.Column("obv_ema_9", sa.Double(), nullable=True),
        sa.Column("adx_14", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_klines_15m")),
    )
    op.create_table(
        "klines_1d",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("ema_9", sa.Double(), nullable=True),
        sa.Column("ema_21", sa.Double(), nullable=True),
        sa.Column("ema_55", sa.Double(), nullable=True),
        sa.Column("rsi_14", sa.Double(), nullable=True),
        sa.Column("macd_line", sa.Double(), nullable=True),
        sa.Column("signal_line", sa.Double(), nullable=True),
        sa.Column("histogram", sa.Double(), nullable=True),
        sa.Column("bb_upper", sa.Double(), nullable=True),
        sa.Column("bb_middle", sa.Double(), nullable=True),
        sa.Column("bb_lower", sa.Double(), nullable=True),
        sa.Column("bb_width", sa.Double(), nullable=True),
        sa.Column("atr_14", sa.Double(), nullable=True),
        sa.Column("obv", sa.Double(), nullable=True),
        sa.Column("obv_ema_9", sa.Double(), nullable=True),
        sa.Column("adx_14", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_klines_1d")),
    )
    op.create_table(
        "klines_4h",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("ema_9", sa.Double(), nullable=True),
        sa.Column("ema_21", sa.Double(), nullable=True),
        sa.Column("ema_55", sa.Double(), nullable=True),
        sa.Column("rsi_14", sa.Double(), nullable=True),
        sa.Column("macd_line", sa.Double(), nullable=True),
        sa.Column("signal_line", sa.Double(), nullable=True),
        sa.Column("histogram", sa.Double(), nullable=True),
        sa.Column("bb_upper", sa.Double(), nullable=True),
        sa.Column("bb_middle", sa.Double(), nullable=True),
        sa.Column("bb_lower", sa.Double(), nullable=True),
        sa.Column("bb_width", sa.Double(), nullable=True),
        sa.Column("atr_14", sa.Double(), nullable=True),
        sa.Column("obv", sa.Double(), nullable=True),
        sa.Column("obv_ema_9", sa.Double(), nullable=True),
        sa.Column("adx_14", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_klines_4h")),
    )
    op.create_table(
        "liquidation",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("long_usd", sa.Double(), nullable=False),
        sa.Column("short_usd", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_liquidation")),
    )
    op.create_table(
        "market_sentiment",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("long_ratio", sa.Double(), nullable=False),
        sa.Column("short_ratio", sa.Double(), nullable=False),
        sa.Column("long_short_ratio", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_market_sentiment")),
    )
    op.create_table(
        "market_signal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("signal_type", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_signal")),
        sa.UniqueConstraint(
            "symbol", "time", "signal_type", name=op.f("uq_market_signal_symbol_time_signal_type")
        ),
    )
    op.create_index(
        op.f("ix_market_signal_status_expires_at"),
        "market_signal",
        ["status", "expires_at"],
        unique=False,
    )
    op.create_index(op.f("ix_market_signal_time"), "market_signal", ["time"], unique=False)
    op.create_table(
        "open_interest",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_open_interest")),
    )
    op.create_table(
        "order_book",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("bids", sa.JSON(), nullable=False),
        sa.Column("asks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "time", name=op.f("pk_order_book")),
    )
    op.create_table(
        "order_history",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("pos_side", sa.String(length=8), nullable=False),
        sa.Column("order_type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("size", ExactDecimal(), nullable=False),
        sa.Column("filled_size", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=True),
        sa.Column("avg_price", ExactDecimal(), nullable=True),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("pnl", ExactDecimal(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("td_mode", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("c_time", UtcDateTime(), nullable=False),
        sa.Column("u_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_history")),
    )
    op.create_index(op.f("ix_order_history_c_time"), "order_history", ["c_time"], unique=False)
    op.create_index(
        op.f("ix_order_history_client_order_id"), "order_history", ["client_order_id"], unique=False
    )
    op.create_index(
        op.f("ix_order_history_symbol_c_time"), "order_history", ["symbol", "c_time"], unique=False
    )
    op.create_index(op.f("ix_order_history_u_time"), "order_history", ["u_time"], unique=False)
    op.create_table(
        "order_intent",
        sa.Column("intent_id", sa.String(length=200), nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("size", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=True),
        sa.Column("trigger_price", ExactDecimal(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_order_intent")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_order_intent_client_order_id")),
    )
    op.create_index(
        op.f("ix_order_intent_created_at"), "order_intent", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_order_intent_order_id"), "order_intent", ["order_id"], unique=False)
    op.create_index(op.f("ix_order_intent_state"), "order_intent", ["state"], unique=False)
    op.create_table(
        "pending_order",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("trigger_price", ExactDecimal(), nullable=False),
        sa.Column("crossing", sa.String(length=8), nullable=False),
        sa.Column("size", ExactDecimal(), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("stop_loss", ExactDecimal(), nullable=True),
        sa.Column("take_profit", ExactDecimal(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("fill_price", ExactDecimal(), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_order")),
    )
    op.create_index(
        op.f("ix_pending_order_created_at"), "pending_order", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_pending_order_state_symbol"), "pending_order", ["state", "symbol"], unique=False
    )
    op.create_table(
        "position_history",
        sa.Column("pos_id", sa.String(length=64), nullable=False),
        sa.Column("u_time", UtcDateTime(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("pos_side", sa.String(length=8), nullable=False),
        sa.Column("margin_mode", sa.String(length=16), nullable=False),
        sa.Column("leverage", sa.Integer(), nullable=False),
        sa.Column("open_avg_price", ExactDecimal(), nullable=False),
        sa.Column("close_avg_price", ExactDecimal(), nullable=False),
        sa.Column("open_max_size", ExactDecimal(), nullable=False),
        sa.Column("close_total_size", ExactDecimal(), nullable=False),
        sa.Column("pnl", ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("funding_fee", ExactDecimal(), nullable=False),
        sa.Column("close_type", sa.Integer(), nullable=False),
        sa.Column("c_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pos_id", "u_time", name=op.f("pk_position_history")),
    )
    op.create_index(
        op.f("ix_position_history_symbol_u_time"),
        "position_history",
        ["symbol", "u_time"],
        unique=False,
    )
    op.create_index(
        op.f("ix_position_history_u_time"), "position_history", ["u_time"], unique=False
    )
    op.create_table(
        "system_status",
        sa.Column("component", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_run_at", UtcDateTime(), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("last_error_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("runs", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failures", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("consecutive_failures", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("component", name=op.f("pk_system_status")),
    )
    op.create_table(
        "trading_relations",
        sa.Column("client_order_id", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("pos_id", sa.String(length=64), nullable=True),
        sa.Column("stop_loss_algo_id", sa.String(length=64), nullable=True),
        sa.Column("stop_loss_price", ExactDecimal(), nullable=True),
        sa.Column("take_profit_algo_id", sa.String(length=64), nullable=True),
        sa.Column("take_profit_price", ExactDecimal(), nullable=True),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("pending_order_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_trading_relations")),
    )
    op.create_index(
        op.f("ix_trading_relations_created_at"), "trading_relations", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_trading_relations_stop_loss_algo_id"),
        "trading_relations",
        ["stop_loss_algo_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_trading_relations_symbol_side_status"),
        "trading_relations",
        ["symbol", "side", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_trading_relations_take_profit_algo_id"),
        "trading_relations",
        ["take_profit_algo_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trading_relations_take_profit_algo_id"), table_name="trading_relations")
    op.drop_index(op.f("ix_trading_relations_symbol_side_status"), table_name="trading_relations")
    op.drop_index(op.f("ix_trading_relations_stop_loss_algo_id"), table_name="trading_relations")
    op.drop_index(op.f("ix_trading_relations_created_at"), table_name="trading_relations")
    op.drop_table("trading_relations")
    op.drop_table("system_status")
    op.drop_index(op.f("ix_position_history_u_time"), table_name="position_history")
    op.drop_index(op.f("ix_position_history_symbol_u_time"), table_name="position_history")
    op.drop_table("position_history")
    op.drop_index(op.f("ix_pending_order_state_symbol"), table_name="pending_order")
    op.drop_index(op.f("ix_pending_order_created_at"), table_name="pending_order")
    op.drop_table("pending_order")
    op.drop_index(op.f("ix_order_intent_state"), table_name="order_intent")
    op.drop_index(op.f("ix_order_intent_order_id"), table_name="order_intent")
    op.drop_index(op.f("ix_order_intent_created_at"), table_name="order_intent")
    op.drop_table("order_intent")
    op.drop_index(op.f("ix_order_history_u_time"), table_name="order_history")
    op.drop_index(op.f("ix_order_history_symbol_c_time"), table_name="order_history")
    op.drop_index(op.f("ix_order_history_client_order_id"), table_name="order_history")
    op.drop_index(op.f("ix_order_history_c_time"), table_name="order_history")
    op.drop_table("order_history")
    op.drop_table("order_book")
    op.drop_table("open_interest")
    op.drop_index(op.f("ix_market_signal_time"), table_name="market_signal")
    op.drop_index(op.f("ix_market_signal_status_expires_at"), table_name="market_signal")
    op.drop_table("market_signal")
    op.drop_table("market_sentiment")
    op.drop_table("liquidation")
    op.drop_table("klines_4h")
    op.drop_table("klines_1d")
    op.drop_table("klines_15m")
    op.drop_table("funding_rate")
    op.drop_table("fear_greed")
    op.drop_table("etf_flow")
    op.drop_table("config")
