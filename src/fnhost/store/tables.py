"""The schema. Timestamps are epoch milliseconds (the wire's unit), so no dialect mangles zones."""

from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only autoincrements INTEGER PRIMARY KEY; BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")
# Ids are never reused (CDF never reuses one; clients keep them). SQLite gives a deleted newest
# row's id to the next row unless the table is AUTOINCREMENT; PostgreSQL's sequences never go
# back.
NEVER_REUSE: dict[str, Any] = {"sqlite_autoincrement": True}

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for statements run on a Connection (`Database.run_read`)."""
    return cast(Table, model.__table__)


class File(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("project", "external_id"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    upload_key: Mapped[str] = mapped_column(String(64), unique=True)
    blob_digest: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    uploaded: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_time: Mapped[int | None] = mapped_column(BigInteger)
    created_time: Mapped[int] = mapped_column(BigInteger)
    last_updated_time: Mapped[int] = mapped_column(BigInteger)


class Function(Base):
    __tablename__ = "functions"
    __table_args__ = (UniqueConstraint("project", "external_id"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[int] = mapped_column(BigInteger)
    code_digest: Mapped[str] = mapped_column(String(64))
    function_path: Mapped[str] = mapped_column(Text)
    secrets_sealed: Mapped[str | None] = mapped_column(Text)
    secret_names: Mapped[list[Any] | None] = mapped_column(JSON)
    env_vars: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cpu: Mapped[float] = mapped_column(Float)
    memory: Mapped[float] = mapped_column(Float)
    runtime: Mapped[str] = mapped_column(String(16))
    runtime_version: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    index_url: Mapped[str | None] = mapped_column(Text)
    extra_index_urls: Mapped[list[Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_trace: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[int] = mapped_column(BigInteger)
    last_called: Mapped[int | None] = mapped_column(BigInteger)


class Call(Base):
    """A function call. `state` is internal (queued, running, or terminal); see schemas.calls."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("schedule_id", "scheduled_time"),
        Index("ix_calls_function_id_id", "function_id", "id"),
        Index("ix_calls_state_id", "state", "id"),
        # Counting the calls not ended per project and function (the overload limits) reads
        # only them, however long the history.
        Index("ix_calls_state_project_function_id", "state", "project", "function_id"),
        # The console's project-wide views: the runs timeline, calls per minute.
        Index("ix_calls_project_start_time", "project", "start_time"),
        NEVER_REUSE,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255))
    function_id: Mapped[int] = mapped_column(ForeignKey("functions.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, index=True)  # for retention
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    response: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_trace: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[int | None] = mapped_column(BigInteger)
    schedule_id: Mapped[int | None] = mapped_column(BigInteger)
    scheduled_time: Mapped[int | None] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # Where a dispatcher handed the call (recorded before it is handed over): the instance's
    # name and its node, so a dispatcher taking over knows whom to ask how it ended, and
    # operators see where it ran. None on one machine.
    instance: Mapped[str | None] = mapped_column(String(255))
    node: Mapped[str | None] = mapped_column(String(64))


class CallLog(Base):
    __tablename__ = "call_logs"
    __table_args__ = NEVER_REUSE

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = NEVER_REUSE

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    function_id: Mapped[int] = mapped_column(
        ForeignKey("functions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    cron_expression: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    session_id: Mapped[int] = mapped_column(BigInteger)
    created_time: Mapped[int] = mapped_column(BigInteger)


class Token(Base):
    """A bearer token fnhost issued. Only its SHA-256 is stored."""

    __tablename__ = "tokens"
    __table_args__ = NEVER_REUSE

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    projects: Mapped[list[Any] | None] = mapped_column(JSON)
    capabilities: Mapped[list[Any]] = mapped_column(JSON)
    session_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[int] = mapped_column(BigInteger)
    expires_time: Mapped[int | None] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Session(Base):
    """A captured identity behind a one-time nonce (POST /sessions)."""

    __tablename__ = "sessions"
    __table_args__ = NEVER_REUSE

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    capabilities: Mapped[list[Any]] = mapped_column(JSON)
    client_id: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[int] = mapped_column(BigInteger)
    expiration_time: Mapped[int] = mapped_column(BigInteger, index=True)  # for retention
    # Sealed (SecretsBox): the identity provider's client credentials or token its calls act
    # with upstream; None for fnhost's own identities, which never leave fnhost.
    upstream_credentials_sealed: Mapped[str | None] = mapped_column(Text)


class Dispatcher(Base):
    """A live dispatcher: calls it claimed are its own until its heartbeat stops."""

    __tablename__ = "dispatchers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    started_time: Mapped[int] = mapped_column(BigInteger)
    heartbeat_time: Mapped[int] = mapped_column(BigInteger)


class Client(Base):
    """A client registered with fnhost: its id and the SHA-256 of its secret."""

    __tablename__ = "clients"
    __table_args__ = NEVER_REUSE

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    projects: Mapped[list[Any] | None] = mapped_column(JSON)
    capabilities: Mapped[list[Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_time: Mapped[int] = mapped_column(BigInteger)


class DataSet(Base):
    """A data set: what cognite-toolkit files function code under (and checks exists)."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project", "external_id"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    write_protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_time: Mapped[int] = mapped_column(BigInteger)
    last_updated_time: Mapped[int] = mapped_column(BigInteger)


class ConsoleSession(Base):
    """A web console sign-in. The browser holds a random id, of which only a SHA-256 is stored;
    the credential signed in with is kept sealed, to be checked again on every request."""

    __tablename__ = "console_sessions"
    __table_args__ = NEVER_REUSE

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    credential_sealed: Mapped[str] = mapped_column(Text)
    created_time: Mapped[int] = mapped_column(BigInteger)
    last_seen_time: Mapped[int] = mapped_column(BigInteger)
    expires_time: Mapped[int] = mapped_column(BigInteger, index=True)


class Project(Base):
    """A project: exists once something names it (a grant on it, a resource created in it, or
    `fnhost project create`). Projects are never deleted."""

    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_time: Mapped[int] = mapped_column(BigInteger)


class Blob(Base):
    """A code zip or an uploaded file's bytes, by SHA-256 digest, where the database is shared
    (PostgreSQL): every replica and dispatcher reads them from here, whatever its own disk."""

    __tablename__ = "blobs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_time: Mapped[int] = mapped_column(BigInteger)


class UploadPart(Base):
    """A part of a multipart upload in progress, where the database is shared (PostgreSQL):
    its parts may reach different replicas."""

    __tablename__ = "upload_parts"

    upload_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
