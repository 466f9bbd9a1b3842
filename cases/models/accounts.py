"""Console users and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cases.models.base import Base, UTCDateTime, in_values, in_values_or_null, utcnow
from cases.vocab import Department, Role, values


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_values("role", values(Role)), name="role"),
        CheckConstraint(in_values_or_null("department", values(Department)), name="department"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(100), default="")  # role branch: which branch or market area
    department: Mapped[str | None] = mapped_column(String(20))  # role branch: whose referrals (0014)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """One login to the console (migration 0010, cases.sessions). The signed cookie carries a random
    token; only its SHA-256 is stored here, so a leaked table opens no session. A request whose row is
    gone (logout, new password, new role, account disabled) or idle too long is logged out."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
