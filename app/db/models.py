"""The tables, as SQLAlchemy 2 ORM classes. Migrations (``migrations/versions``) make them.

Times are stored in UTC, timezone-aware. A practice keeps its report whole (JSON) for the
attempt's page and replay, and beside it the few figures the progress pages read
(``score``, ``limb_scores``, ``part_scores``, ``top_correction``), so a history of a thousand
practices is summed without parsing a thousand reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
ROLES = ("teacher", "learner")
NAME_LENGTH = 64


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class User(Base):
    """A teacher or a learner. ``password_hash`` is an Argon2id hash, or None for the local
    learner of a tutor at home, who never logs in."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('teacher', 'learner')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]

    practices: Mapped[list[Practice]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)
    logins: Mapped[list[LoginSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)


class LoginSession(Base):
    """A logged-in browser. ``id`` is the SHA-256 of the cookie's secret (a stolen database
    does not log anyone in); ``csrf`` the token its cookie-authenticated writes must carry."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="logins")


class LoginThrottle(Base):
    """Failed logins under one name (whether or not it exists), to slow guessing."""

    __tablename__ = "login_throttle"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime]


class Practice(Base):
    """One finished practice: who, what, when, how, and what the tutor said."""

    __tablename__ = "practices"
    __table_args__ = (
        Index("ix_practices_user_reference_finished", "user_id", "reference", "finished_at"),
        CheckConstraint("kind IN ('step', 'routine')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(index=True)
    speed: Mapped[float] = mapped_column(Float)
    mirror: Mapped[bool] = mapped_column(Boolean)
    loop_step: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    score: Mapped[float] = mapped_column(Float)
    rating: Mapped[str] = mapped_column(String(16))
    limb_scores: Mapped[dict[str, Any]]
    part_scores: Mapped[dict[str, Any]]
    top_correction: Mapped[str | None] = mapped_column(String(500))
    report: Mapped[dict[str, Any]]
    attempt: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The learner's landmarks of the attempt: a gzipped ``.pose.json`` document, or None when
    it was over the size limit."""
    attempt_bytes: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship(back_populates="practices")
