"""FHIR resources written by the feeds: versioned upserts, and a patient's compartment for evidence.

Writes (`ResourceWriter`) happen inside the caller's transaction (the HL7 ingest commits the
message, the exactly-once key and the resources together). A write whose content equals the current
version creates no new version, so replaying a message changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, DateTime, Table, bindparam, insert, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

from integration.store.models import FhirResource, FhirResourceVersion, table_of

# Where each resource type points at its patient (the Patient compartment, simplified).
_PATIENT_REFS = ("subject", "patient", "beneficiary")


def patient_of(content: dict[str, Any]) -> str | None:
    """The id of the Patient a resource belongs to, if any."""
    if content.get("resourceType") == "Patient":
        return str(content["id"])
    for key in _PATIENT_REFS:
        ref = content.get(key)
        if isinstance(ref, dict):
            reference = str(ref.get("reference") or "")
            if reference.startswith("Patient/"):
                return reference.split("/", 1)[1]
    for participant in content.get("participant") or []:  # Appointment
        reference = str((participant.get("actor") or {}).get("reference") or "")
        if reference.startswith("Patient/"):
            return reference.split("/", 1)[1]
    return None


def _strip_meta(content: dict[str, Any]) -> dict[str, Any]:
    """`content` without its meta (the store writes its own); itself when it has none (no
    caller changes a body it passes in or gets back)."""
    if "meta" not in content:
        return content
    return {k: v for k, v in content.items() if k != "meta"}


class Driver:
    """The hot statements of the HL7 ingest, run on the DB-API cursor with `executemany`.

    Their SQL is built from the schema's own table and column names (quoted by the dialect)
    and placeholders, never from data (hence the `noqa: S608`s).

    SQLAlchemy processes every parameter of every row (a bind processor per column, a dict
    per row); here rows are tuples already in the driver's form: timestamps go through the
    dialect's own bind processor once per value (ISO text on SQLite, `datetime` for
    psycopg), so the stored values are the ones SQLAlchemy would have sent. Errors are
    re-raised as SQLAlchemy's `DBAPIError` subclasses, as `Connection.execute` would.

    `Driver.of(connection)` is None for a driver whose parameter style isn't handled here
    (then the Core statements are used).
    """

    __slots__ = (
        "_error",
        "_pipelined",
        "_returning_many",
        "connection",
        "dialect",
        "mark",
        "timestamp",
    )

    def __init__(self, connection: Connection, form: _DriverForm) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.mark, self.timestamp, self._error, self._returning_many = form
        self._pipelined = False

    @classmethod
    def of(cls, connection: Connection) -> Driver | None:
        dialect = connection.dialect
        form = _FORMS.get(dialect)
        if form is None:
            mark = _MARKS.get(dialect.paramstyle)
            if mark is None or dialect.driver not in ("pysqlite", "psycopg"):
                return None
            form = _FORMS[dialect] = (
                mark,
                _timestamp_processor(dialect),
                dialect.loaded_dbapi.Error,
                dialect.driver == "psycopg",
            )
        return cls(connection, form)

    def insert_sql(self, table: Table, columns: Sequence[str]) -> str:
        return self._sql(
            ("insert", table.name, tuple(columns)), lambda: self._insert(table, columns)
        )

    def update_sql(self, table: Table, columns: Sequence[str], keys: Sequence[str]) -> str:
        def build() -> str:
            quote = self.dialect.identifier_preparer.quote
            sets = ", ".join(f"{quote(c)} = {self.mark}" for c in columns)
            where = " AND ".join(f"{quote(k)} = {self.mark}" for k in keys)
            return f"UPDATE {quote(table.name)} SET {sets} WHERE {where}"  # noqa: S608

        return self._sql(("update", table.name, tuple(columns), tuple(keys)), build)

    def copy_sql(
        self, target: Table, source: Table, columns: Sequence[str], keys: Sequence[str]
    ) -> str:
        """INSERT INTO `target` (`columns`) the same columns of the `source` row whose `keys`
        equal the parameters (one statement per row with `executemany`)."""

        def build() -> str:
            quote = self.dialect.identifier_preparer.quote
            names = ", ".join(quote(c) for c in columns)
            where = " AND ".join(f"{quote(k)} = {self.mark}" for k in keys)
            return (
                f"INSERT INTO {quote(target.name)} ({names})"  # noqa: S608
                f" SELECT {names} FROM {quote(source.name)} WHERE {where}"
            )

        return self._sql(("copy", target.name, source.name, tuple(columns), tuple(keys)), build)

    def rows_by_keys(
        self,
        table: str,
        key: tuple[str, str],
        columns: Sequence[str],
        keys: Sequence[tuple[str, str]],
    ) -> list[Any]:
        """`columns` of the rows of `table` whose two-column `key` is one of `keys`: one
        statement, one primary-key probe per key, the same SQL whatever the number of keys.

        (`a IN (...) AND b IN (...)` probes every a with every b, and for a group's resources,
        6 types and 50 ids, SQLite's planner scanned each type's rows instead: half the
        listener's CPU at 8 connections.) `key` must be the table's primary key. The keys
        travel as one JSON array on SQLite (`json_each`, looped over first) and as two arrays
        on PostgreSQL (`unnest`), where each key probes the table in a `LATERAL` subquery
        with `LIMIT 1`, and the statement is never prepared. Prepared (psycopg does it on the
        6th run), a join's generic plan made while the table was small was a sequential scan
        with a hash join, kept until the next ANALYZE however much the table grew meanwhile
        (0.76 ms against 0.09 ms at 1,900 rows of `hl7_applied`); planned on each run, the
        lateral form probes the primary key once the table has a few pages (in-process,
        groups of 1 on a new database: 5.2-6.4 ms a message before, 2.4-2.8 ms now)."""
        return self.send_rows_by_keys(table, key, columns, keys)()

    def send_rows_by_keys(
        self,
        table: str,
        key: tuple[str, str],
        columns: Sequence[str],
        keys: Sequence[tuple[str, str]],
    ) -> Callable[[], list[Any]]:
        """`rows_by_keys`, sent now and read when the returned function is called (see
        `send_query`)."""
        sql = self.by_keys_sql(table, key, columns)
        if self.dialect.name == "sqlite":
            return self.send_query(sql, [json.dumps([list(k) for k in keys])])
        return self.send_query(sql, [[k[0] for k in keys], [k[1] for k in keys]], prepare=False)

    def by_keys_sql(self, table: str, key: tuple[str, str], columns: Sequence[str]) -> str:
        """The statement `rows_by_keys` runs: on SQLite one parameter (a JSON array of key
        pairs), on PostgreSQL two (the text arrays of first and second key values)."""

        def build() -> str:
            quote = self.dialect.identifier_preparer.quote
            first, second = quote(key[0]), quote(key[1])
            if self.dialect.name == "sqlite":
                selected = ", ".join(f"t.{quote(c)}" for c in columns)
                return (
                    f"SELECT {selected} FROM json_each(?) AS k CROSS JOIN {quote(table)} AS t"  # noqa: S608
                    f" ON t.{first} = json_extract(k.value, '$[0]')"
                    f" AND t.{second} = json_extract(k.value, '$[1]')"
                )
            selected = ", ".join(f"s.{quote(c)}" for c in columns)
            return (
                f"SELECT t.* FROM unnest({self.mark}::text[], {self.mark}::text[]) AS k(a, b)"  # noqa: S608
                f" CROSS JOIN LATERAL (SELECT {selected} FROM {quote(table)} AS s"
                f" WHERE s.{first} = k.a AND s.{second} = k.b LIMIT 1) AS t"
            )

        return self._sql(("by_keys", table, key, tuple(columns)), build)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """On psycopg, the statements run inside are sent together (pipeline mode): the
        server is waited for only where rows are read (`send_query`) and on leaving, and
        their errors are raised there, as `DBAPIError`. On SQLite (no round trips) they run
        as they are."""
        if not self._returning_many:
            yield
            return
        psycopg_connection: Any = self.connection.connection.driver_connection
        outer = self._pipelined
        try:
            with psycopg_connection.pipeline():
                self._pipelined = True
                yield
        except self._error as exc:
            raise self._wrap("(pipeline)", (), exc) from exc
        finally:
            self._pipelined = outer

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        cursor = self.connection.connection.cursor()
        try:
            cursor.executemany(sql, rows)
        except self._error as exc:
            raise self._wrap(sql, rows, exc) from exc
        finally:
            cursor.close()

    def send_query(
        self, sql: str, params: Sequence[Any], prepare: bool | None = None
    ) -> Callable[[], list[Any]]:
        """A SELECT sent now; its rows are read when the returned function is called.
        `prepare` (psycopg only): False never prepares it on the server, None leaves it to
        psycopg (prepared from the 6th run).

        Inside `pipelined()` on psycopg the statement only goes into the connection's output,
        so the SELECTs sent one after the other, and the BEGIN psycopg opens the transaction
        with, make one round trip when the first one's rows are read. Elsewhere (SQLite, or
        outside a pipeline) it runs at once. Call the function once."""
        cursor: Any = self.connection.connection.cursor()  # psycopg's or sqlite3's
        try:
            if prepare is None:
                cursor.execute(sql, params)
            else:
                cursor.execute(sql, params, prepare=prepare)
            if not self.in_pipeline:
                found = list(cursor.fetchall())
                cursor.close()
                return lambda: found
        except self._error as exc:
            cursor.close()
            raise self._wrap(sql, params, exc) from exc
        except BaseException:
            cursor.close()
            raise

        def rows() -> list[Any]:
            try:
                return list(cursor.fetchall())
            except self._error as exc:
                raise self._wrap(sql, params, exc) from exc
            finally:
                cursor.close()

        return rows

    @property
    def in_pipeline(self) -> bool:
        """Inside `pipelined()` on psycopg: statements are queued, not yet answered."""
        return self._pipelined

    def send_new_ids(self, table: Table, count: int) -> Callable[[], list[int]] | None:
        """PostgreSQL: `count` new values of `table`'s `id` sequence, in ascending order, asked
        for now and read when the returned function is called (see `send_query`), so that
        the rows can be inserted with their ids in the same round trip as the rows that
        refer to them, instead of an `INSERT ... RETURNING` waited for on its own. None on
        SQLite (no round trips: `insert_returning_ids` is as cheap)."""
        if not self._returning_many:
            return None
        # psycopg's placeholders; the table name is a parameter, not SQL
        sql = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
        rows = self.send_query(sql, [table.name, count])
        return lambda: sorted(int(row[0]) for row in rows())

    def commit(self) -> None:
        """psycopg inside `pipelined()`: queue the COMMIT, so it goes with the last writes and
        the pipeline's end waits for both at once (SQLAlchemy's own commit afterwards finds
        no transaction and sends nothing). Elsewhere nothing: the caller's transaction
        commits as usual."""
        if self._pipelined:
            psycopg_connection: Any = self.connection.connection.driver_connection
            psycopg_connection.commit()

    def insert_returning_ids(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Run an INSERT per row and return the new rows' ids, in the order of `rows`."""
        cursor: Any = self.connection.connection.cursor()  # psycopg's or sqlite3's
        try:
            if self._returning_many:  # psycopg: one pipelined round trip, a result per row
                cursor.executemany(f"{sql} RETURNING id", rows, returning=True)
                ids = []
                while True:
                    (new_id,) = cursor.fetchone()
                    ids.append(int(new_id))
                    if not cursor.nextset():
                        break
                return ids
            out = []
            for row in rows:  # sqlite3: each execute is a C call; lastrowid is the new id
                cursor.execute(sql, row)
                out.append(int(cursor.lastrowid))
            return out
        except self._error as exc:
            raise self._wrap(sql, rows, exc) from exc
        finally:
            cursor.close()

    def _wrap(self, sql: str, params: Any, exc: Exception) -> StatementError:
        return DBAPIError.instance(sql, params, exc, self._error, dialect=self.dialect)

    def _insert(self, table: Table, columns: Sequence[str]) -> str:
        quote = self.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        marks = ", ".join([self.mark] * len(columns))
        return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"  # noqa: S608

    def _sql(self, key: tuple[Any, ...], build: Callable[[], str]) -> str:
        cache = _SQL.setdefault(self.dialect, {})
        sql = cache.get(key)
        if sql is None:
            sql = cache[key] = build()
        return sql


_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# per dialect: placeholder, timestamp processor, the DB-API's Error, executemany(returning=)
_DriverForm = tuple[str, Callable[[datetime], Any], type[Exception], bool]
_FORMS: weakref.WeakKeyDictionary[Dialect, _DriverForm] = weakref.WeakKeyDictionary()
_SQL: weakref.WeakKeyDictionary[Dialect, dict[tuple[Any, ...], str]] = weakref.WeakKeyDictionary()


def _timestamp_processor(dialect: Dialect) -> Callable[[datetime], Any]:
    """What SQLAlchemy sends for a `DateTime(timezone=True)` value on this dialect."""
    process = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return _same
    return process


def _same(value: datetime) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Written:
    resource_type: str
    id: str
    version_id: int
    changed: bool


_RESOURCE = table_of(FhirResource)
_VERSION = table_of(FhirResourceVersion)
# Built once: a statement made per call costs more than running it (SQLAlchemy's cache key).
_LOAD = select(
    _RESOURCE.c.resource_type, _RESOURCE.c.id, _RESOURCE.c.version_id, _RESOURCE.c.content
).where(
    # both key columns, so the primary key index is used
    _RESOURCE.c.resource_type.in_(bindparam("types", expanding=True)),
    _RESOURCE.c.id.in_(bindparam("ids", expanding=True)),
)
_INSERT = insert(_RESOURCE)
_UPDATE = update(_RESOURCE).where(  # SET takes the columns named in the rows; WHERE the b_ keys
    _RESOURCE.c.resource_type == bindparam("b_type"), _RESOURCE.c.id == bindparam("b_id")
)
_INSERT_VERSION = insert(_VERSION)


_LOAD_COLUMNS = ("resource_type", "id", "version_id", "content")
_RESOURCE_COLUMNS = (
    "resource_type",
    "id",
    "version_id",
    "last_updated",
    "patient_id",
    "content",
    "message_id",
)
_UPDATE_COLUMNS = ("version_id", "last_updated", "patient_id", "content", "message_id")
_VERSION_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "content", "message_id")
_ARCHIVE = insert(_VERSION).from_select(  # a stored row, before an update replaces it
    _VERSION_COLUMNS,
    select(*(_RESOURCE.c[c] for c in _VERSION_COLUMNS)).where(
        _RESOURCE.c.resource_type == bindparam("b_type"), _RESOURCE.c.id == bindparam("b_id")
    ),
)


class ResourceWriter:
    """Versioned upserts for a group of messages, sent as one statement per table.

    `load` reads the current rows of the resources about to be written (one SELECT),
    `write` works out each new version in memory (a resource written twice in the group
    gets two versions), and `flush` sends the INSERTs and UPDATEs with `executemany`. Runs on
    the caller's connection and transaction (on the DB-API cursor, see `Driver`, when the
    driver is SQLite's or psycopg).

    The current version is in `fhir_resource`; `fhir_resource_version` holds the versions an
    update replaced (copied there, as stored, before the update), so every version is kept
    once. Most feed resources are never updated: a copy of each new one in the history table
    doubled the bytes written and added a random page of its primary-key index per resource
    (in-process, SQLite, groups of 8: 155 WAL pages a group against 90).
    """

    def __init__(self, connection: Connection, driver: Driver | None = None) -> None:
        self.connection = connection
        self.driver = driver if driver is not None else Driver.of(connection)
        self._current: dict[tuple[str, str], tuple[int, dict[str, Any]] | None] = {}
        self._stored: set[tuple[str, str]] = set()  # keys with a row in the database
        # final row per changed key: version_id, last_updated, patient_id, content, message_id
        self._rows: dict[tuple[str, str], tuple[int, datetime, str | None, str, int | None]] = {}
        # versions made and replaced within the group (never in fhir_resource): resource_type,
        # id, version_id, last_updated, content, message_id
        self._versions: list[tuple[str, str, int, datetime, str, int | None]] = []
        self._replaced: list[tuple[str, str]] = []  # stored rows to copy to the history first
        self._now: datetime | None = None
        self._now_text = ""

    def load(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the current rows of these resources (one SELECT)."""
        self.request(keys)()

    def request(self, keys: Iterable[tuple[str, str]]) -> Callable[[], None]:
        """`load`, with the SELECT sent now and its rows taken in when the returned function
        is called (with the driver inside `Driver.pipelined()`, it shares a round trip with
        the statements sent before that call; see `Driver.send_query`). Call it before the
        first `write`."""
        wanted = set(keys) - self._current.keys()
        if not wanted:
            return _nothing
        rows: Callable[[], Iterable[Any]]
        if self.driver is not None:
            rows = self.driver.send_rows_by_keys(
                "fhir_resource", ("resource_type", "id"), _LOAD_COLUMNS, sorted(wanted)
            )
        else:
            types = sorted({resource_type for resource_type, _id in wanted})
            ids = sorted({resource_id for _type, resource_id in wanted})
            result = self.connection.execute(_LOAD, {"types": types, "ids": ids}).all()
            rows = lambda: result  # noqa: E731

        def take() -> None:
            for resource_type, resource_id, version_id, content in rows():
                key = (resource_type, resource_id)
                if key in wanted:
                    self._current[key] = (version_id, _strip_meta(loads(content)))
                    self._stored.add(key)
            for key in wanted - self._current.keys():
                self._current[key] = None

        return take

    def write(
        self,
        body: dict[str, Any],
        mode: str,
        now: datetime,
        message_id: int | None,
        source: str,
        keep: tuple[str, ...] = (),
    ) -> Written:
        """One resource. mode: replace | merge (overlay top-level elements) | create. `keep`:
        top-level elements the message did not give, which keep their stored values (the
        body's are for a resource not stored yet)."""
        resource_type, resource_id = str(body["resourceType"]), str(body["id"])
        key = (resource_type, resource_id)
        if key not in self._current:
            self.load([key])
        current = self._current[key]
        if current is not None:
            version, old = current
            if mode == "create":
                return Written(resource_type, resource_id, version, False)
            new = {**old, **_strip_meta(body)} if mode == "merge" else _strip_meta(body)
            if keep:
                new = {**new, **{name: old[name] for name in keep if name in old}}
            if new == old:
                return Written(resource_type, resource_id, version, False)
            pending = self._rows.get(key)
            if pending is not None:  # this group's earlier version: never stored as current
                pending_version, at, _patient, pending_text, pending_message = pending
                self._versions.append(
                    (resource_type, resource_id, pending_version, at, pending_text, pending_message)
                )
            else:  # the stored row: copied to the history before the update
                self._replaced.append(key)
            version += 1
        else:
            new = _strip_meta(body)
            version = 1
        self._current[key] = (version, new)
        if now is not self._now:  # one `now` per group: formatted once
            self._now, self._now_text = now, now.isoformat(timespec="milliseconds")
        content = {
            **new,
            "meta": {"versionId": str(version), "lastUpdated": self._now_text, "source": source},
        }
        text = dumps(content)
        self._rows[key] = (version, now, patient_of(content), text, message_id)
        return Written(resource_type, resource_id, version, True)

    def flush(self) -> None:
        """Send what `write` decided: the replaced versions to the history, new rows, updated
        rows."""
        if self.driver is not None:
            self._flush_driver(self.driver)
        else:
            self._flush_core()
        self._rows = {}
        self._versions = []
        self._replaced = []

    def _flush_driver(self, driver: Driver) -> None:
        stamps: dict[datetime, Any] = {}  # one `now` per group: processed once

        def stamp(value: datetime) -> Any:
            found = stamps.get(value)
            if found is None:
                found = stamps[value] = driver.timestamp(value)
            return found

        if self._replaced:
            driver.executemany(
                driver.copy_sql(_VERSION, _RESOURCE, _VERSION_COLUMNS, ("resource_type", "id")),
                self._replaced,
            )
        inserts, updates = [], []
        for key, (version, now, patient, text, message_id) in self._rows.items():
            if key in self._stored:
                updates.append((version, stamp(now), patient, text, message_id, *key))
            else:
                inserts.append((*key, version, stamp(now), patient, text, message_id))
                self._stored.add(key)
        if inserts:
            driver.executemany(driver.insert_sql(_RESOURCE, _RESOURCE_COLUMNS), inserts)
        if updates:
            sql = driver.update_sql(_RESOURCE, _UPDATE_COLUMNS, ("resource_type", "id"))
            driver.executemany(sql, updates)
        if self._versions:
            driver.executemany(
                driver.insert_sql(_VERSION, _VERSION_COLUMNS),
                [(t, i, v, stamp(now), text, m) for t, i, v, now, text, m in self._versions],
            )

    def _flush_core(self) -> None:
        if self._replaced:
            self.connection.execute(
                _ARCHIVE, [{"b_type": key[0], "b_id": key[1]} for key in self._replaced]
            )
        inserts, updates = [], []
        for key, (version, now, patient, text, message_id) in self._rows.items():
            values = {
                "version_id": version,
                "last_updated": now,
                "patient_id": patient,
                "content": text,
                "message_id": message_id,
            }
            if key in self._stored:
                updates.append({"b_type": key[0], "b_id": key[1], **values})
            else:
                inserts.append({"resource_type": key[0], "id": key[1], **values})
                self._stored.add(key)
        if inserts:
            self.connection.execute(_INSERT, inserts)
        if updates:
            self.connection.execute(_UPDATE, updates)
        if self._versions:
            self.connection.execute(
                _INSERT_VERSION,
                [dict(zip(_VERSION_COLUMNS, version, strict=True)) for version in self._versions],
            )


def _nothing() -> None:
    return None


def dumps(content: dict[str, Any]) -> str:
    """A resource as stored: compact JSON, keys sorted, non-ASCII as is (orjson: the HL7
    ingest stores ~6 resources a message, and this is 7x faster than `json`). What orjson
    refuses (an integer past 64 bits, a key that isn't a string) goes through `json`, which
    writes the same JSON."""
    try:
        return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def loads(text: str) -> Any:
    return json.loads(text)  # not orjson's: it reads an integer past 64 bits as a float


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a feed resource, and the HL7 message (inbox id) that wrote it."""

    version_id: int
    last_updated: datetime
    message_id: int | None
    content: dict[str, Any]


class FhirStore:
    """Read feed resources within a SQLAlchemy session.

    Finding a Patient by identifier, or the patients merged into one, reads only the stored
    Patients whose JSON text holds the identifier's value (or "replaced-by"): the database
    filters the text, and each row it returns is parsed and checked. Parsing every stored
    Patient for each lookup took 3 scans of the whole table per chart launch. The merges are
    read once per instance: use one per request, as `FeedCharts` does."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._replaced_by: dict[str, list[str]] | None = None  # survivor id -> merged ids

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        row = self.session.get(FhirResource, (resource_type, resource_id))
        return json.loads(row.content) if row else None

    def history(self, resource_type: str, resource_id: str) -> list[StoredVersion]:
        """Every stored version of a resource, oldest first: those an update replaced, then
        the current one ([] for a resource never written)."""
        replaced = self.session.scalars(
            select(FhirResourceVersion)
            .where(
                FhirResourceVersion.resource_type == resource_type,
                FhirResourceVersion.id == resource_id,
            )
            .order_by(FhirResourceVersion.version_id)
        ).all()
        versions = [
            StoredVersion(row.version_id, row.last_updated, row.message_id, loads(row.content))
            for row in replaced
        ]
        current = self.session.get(FhirResource, (resource_type, resource_id))
        if current is not None:
            versions.append(
                StoredVersion(
                    current.version_id,
                    current.last_updated,
                    current.message_id,
                    loads(current.content),
                )
            )
        return versions

    def _patients_holding(self, text: str | None) -> Sequence[FhirResource]:
        """Stored Patients whose JSON text holds `text` (all of them for None): a superset of
        the ones the caller wants, which it confirms on the parsed content."""
        query = select(FhirResource).where(FhirResource.resource_type == "Patient")
        if text is not None:
            query = query.where(FhirResource.content.contains(text, autoescape=True))
        return self.session.scalars(query).all()

    def linked_patients(self, patient_id: str) -> set[str]:
        """The patient and every patient merged into it (Patient.link replaced-by, followed)."""
        if self._replaced_by is None:
            replaced_by: dict[str, list[str]] = {}
            for row in self._patients_holding("replaced-by"):
                for link in json.loads(row.content).get("link") or []:
                    other = str((link.get("other") or {}).get("reference") or "")
                    if link.get("type") == "replaced-by" and other.startswith("Patient/"):
                        replaced_by.setdefault(other.split("/", 1)[1], []).append(row.id)
            self._replaced_by = replaced_by
        found = {patient_id}
        frontier = [patient_id]
        while frontier:
            for old in self._replaced_by.get(frontier.pop(), []):
                if old not in found:
                    found.add(old)
                    frontier.append(old)
        return found

    def compartment(self, patient_id: str) -> list[dict[str, Any]]:
        """A patient's resources (merged patients included) and the Organizations they cite."""
        ids = self.linked_patients(patient_id)
        rows = self.session.scalars(
            select(FhirResource).where(FhirResource.patient_id.in_(ids))
        ).all()
        resources = [json.loads(row.content) for row in rows]
        wanted = set(_references(resources, "Organization")) | set(
            _references(resources, "Practitioner")
        )
        if wanted:
            extra = self.session.scalars(
                select(FhirResource).where(
                    or_(
                        *[
                            (FhirResource.resource_type == t) & (FhirResource.id == i)
                            for t, i in sorted(wanted)
                        ]
                    )
                )
            ).all()
            resources.extend(json.loads(row.content) for row in extra)
        return resources

    def find_patients(self, system: str | None, value: str) -> list[str]:
        """Ids of stored Patients with an identifier of this value (and system, if given)."""
        # The value as stored JSON spells it (orjson and json write such text alike); a value
        # JSON would escape is looked for among all Patients.
        plain = json.dumps(value, ensure_ascii=False)[1:-1] == value and value.isprintable()
        out = []
        for row in self._patients_holding(value if plain and value else None):
            for identifier in json.loads(row.content).get("identifier") or []:
                if identifier.get("value") == value and (
                    system is None or identifier.get("system") == system
                ):
                    out.append(row.id)
                    break
        return out


def _references(
    resources: Iterable[dict[str, Any]], resource_type: str
) -> Sequence[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    prefix = f"{resource_type}/"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith(prefix):
                out.append((resource_type, ref[len(prefix) :]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for resource in resources:
        walk(resource)
    return out
