"""The local catalogue: products, pricebooks and prices in SQLite, and their importers.

Retailers import products and pricebooks ahead of a markdown, so a technician can ask
for "tags for these 3,000 SKUs" without sending a single price. The daemon keeps the
database at ``STATE_DIR/catalog.db``.

* Imports are all-or-nothing: one transaction, and a bad row raises
  :class:`~posbridge.hangtags.errors.HangTagError` ``invalid_import`` naming the line
  and column, with nothing stored. Rows are validated in Python and written with
  ``executemany`` in that one transaction (no per-row SELECT), which keeps 100,000
  rows to a few seconds.
* Lookups are batched (``IN`` lists of :data:`_CHUNK` ids), so 10,000 products and
  their prices come back in a few tens of milliseconds.
* ``Catalog`` is synchronous and thread-safe: each thread gets its own connection
  (WAL lets readers go on while an import writes); ``close()`` closes them all.

Pricebook references are ``catalog.pricebook`` (``storefront-catalog-gb.outlet``), each
part ``[A-Za-z0-9_-]{1,64}``; configuration may name a bare ``pricebook``, which
:func:`resolve_ref` completes with the store's default catalog.

SQLite failures (disk full, corruption) are not hang-tag errors and propagate as
``sqlite3.Error``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from posbridge.hangtags.errors import (
    INVALID_CURRENCY,
    INVALID_IMPORT,
    INVALID_PRICE,
    INVALID_PRICEBOOK_REF,
    HangTagError,
)
from posbridge.hangtags.gtin import normalize_gtin
from posbridge.hangtags.money import parse_amount, validate_currency

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "PRODUCT_FIELDS",
    "Catalog",
    "ImportFormat",
    "ImportSource",
    "PricebookInfo",
    "Product",
    "resolve_ref",
    "validate_ref",
]

ImportFormat = Literal["csv", "jsonl"]
#: What importers read: lines of text (an open text file, a list), the whole text, or bytes
#: (UTF-8, a byte-order mark is allowed).
ImportSource = Iterable[str] | str | bytes

#: The product fields with their own column; any other column or key is an attribute.
PRODUCT_FIELDS = ("id", "gtin", "name", "size", "colour", "brand")
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 1000

# SQLite allows 32,766 bound parameters; 500 keeps each statement small and is as fast.
_CHUNK = 500
_BATCH = 5000
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCHEMA_VERSION = 1
_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id          TEXT PRIMARY KEY,
    gtin        TEXT NOT NULL,
    name        TEXT NOT NULL,
    size        TEXT NOT NULL,
    colour      TEXT NOT NULL,
    brand       TEXT NOT NULL,
    attributes  TEXT NOT NULL,          -- JSON object of text fields
    updated_at  INTEGER NOT NULL        -- microseconds since the Unix epoch, UTC
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pricebooks (
    ref         TEXT PRIMARY KEY,
    currency    TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
-- No foreign key to products: a tag may carry its product inline.
CREATE TABLE IF NOT EXISTS prices (
    ref         TEXT NOT NULL REFERENCES pricebooks(ref) ON DELETE CASCADE,
    product_id  TEXT NOT NULL,
    amount      TEXT NOT NULL,          -- str() of a Decimal, quantized to the currency
    PRIMARY KEY (ref, product_id)
) WITHOUT ROWID;
"""
_UPSERT_PRODUCT = """
INSERT INTO products (id, gtin, name, size, colour, brand, attributes, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    gtin = excluded.gtin, name = excluded.name, size = excluded.size,
    colour = excluded.colour, brand = excluded.brand,
    attributes = excluded.attributes, updated_at = excluded.updated_at
"""
_UPSERT_PRICEBOOK = """
INSERT INTO pricebooks (ref, currency, updated_at) VALUES (?, ?, ?)
ON CONFLICT (ref) DO UPDATE SET currency = excluded.currency, updated_at = excluded.updated_at
"""
_UPSERT_PRICE = """
INSERT INTO prices (ref, product_id, amount) VALUES (?, ?, ?)
ON CONFLICT (ref, product_id) DO UPDATE SET amount = excluded.amount
"""
_PRODUCT_COLUMNS = "id, gtin, name, size, colour, brand, attributes, updated_at"
_SELECT_PRODUCTS = f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id IN ("  # noqa: S608
_SELECT_PRICES = "SELECT product_id, amount FROM prices WHERE ref = ? AND product_id IN ("
_SELECT_CURRENCIES = "SELECT ref, currency FROM pricebooks WHERE ref IN ("
_PRICEBOOK_INFO = (
    "SELECT b.ref, b.currency, b.updated_at,"
    " (SELECT COUNT(*) FROM prices p WHERE p.ref = b.ref) FROM pricebooks b"
)


def validate_ref(ref: str) -> str:
    """Return ``ref`` if it is a full ``catalog.pricebook`` reference, else raise."""
    if isinstance(ref, str):
        catalog, dot, book = ref.partition(".")
        if dot and _NAME.fullmatch(catalog) and _NAME.fullmatch(book):
            return ref
    raise HangTagError(
        INVALID_PRICEBOOK_REF,
        f"pricebook reference {ref!r} is not 'catalog.pricebook' "
        "(each part 1-64 of A-Z a-z 0-9 _ -)",
    )


def resolve_ref(ref: str, default_catalog: str) -> str:
    """The full reference for ``ref``: a bare ``pricebook`` gets ``default_catalog.`` prefixed.

    ``resolve_ref("outlet", "storefront-catalog-gb")`` is
    ``"storefront-catalog-gb.outlet"``; a full reference is only validated.
    """
    if isinstance(ref, str) and "." not in ref:
        if not _NAME.fullmatch(default_catalog):
            raise HangTagError(
                INVALID_PRICEBOOK_REF,
                f"default catalog {default_catalog!r} is not 1-64 of A-Z a-z 0-9 _ -",
            )
        return validate_ref(f"{default_catalog}.{ref}")
    return validate_ref(ref)


class Product(NamedTuple):
    """A product as imported; text fields that were not given are ``""``.

    A NamedTuple rather than a dataclass because lookups build ten thousand of them per
    batch and a tuple is several times cheaper to make than a frozen dataclass.
    """

    id: str
    gtin: str = ""
    name: str = ""
    size: str = ""
    colour: str = ""
    brand: str = ""
    attributes: Mapping[str, str] = _NO_ATTRIBUTES
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PricebookInfo:
    """A pricebook's reference, currency, number of prices and last import time."""

    ref: str
    currency: str
    count: int
    updated_at: datetime


def _now_us() -> int:
    return time.time_ns() // 1000


def _from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class _RowError(Exception):
    """A row problem, raised inside the parsers and given its line by the caller."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _import_error(line: int, label: str, error: _RowError) -> HangTagError:
    where = f"line {line}" if error.column is None else f"line {line}, {label} {error.column!r}"
    return HangTagError(INVALID_IMPORT, f"{where}: {error.message}", field=error.column)


def _text_of(source: ImportSource) -> Iterator[str]:
    """Lines of text (with their line ends) from any accepted source."""
    if isinstance(source, bytes | bytearray | memoryview):
        try:
            text = bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise HangTagError(
                INVALID_IMPORT, f"the data is not UTF-8 (bad byte at offset {exc.start})"
            ) from exc
        return io.StringIO(text, newline="")
    if isinstance(source, str):
        return io.StringIO(source.removeprefix("\ufeff"), newline="")
    return iter(source)


def _clean_text(column: str, value: object, limit: int = MAX_TEXT_LENGTH) -> str:
    """A text field from CSV (always str) or JSON (str, number or null)."""
    if type(value) is str:  # the fast path: every CSV field
        text = value.strip()
        if len(text) <= limit:
            return text
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _RowError(column, f"must be text, not {type(value).__name__}")
    text = value.strip() if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise _RowError(column, f"is {len(text)} characters long; the limit is {limit}")
    return text


def _product_row(
    values: Mapping[str, object], attributes: dict[str, str], now: int
) -> tuple[str, str, str, str, str, str, str, int]:
    """Validate one product; ``values`` holds the PRODUCT_FIELDS present in the row."""
    raw_id = values.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise _RowError("id", "the product id is missing")
    product_id = _clean_text("id", raw_id, MAX_ID_LENGTH)
    raw_gtin = values.get("gtin")
    if raw_gtin is None or raw_gtin == "":
        gtin = ""
    elif isinstance(raw_gtin, str):
        try:
            gtin = normalize_gtin(raw_gtin)
        except HangTagError as exc:
            raise _RowError("gtin", exc.message) from exc
    else:
        raise _RowError("gtin", "give the GTIN as a string (a number loses leading zeros)")
    return (
        product_id,
        gtin,
        _clean_text("name", values.get("name")),
        _clean_text("size", values.get("size")),
        _clean_text("colour", values.get("colour")),
        _clean_text("brand", values.get("brand")),
        json.dumps(attributes, ensure_ascii=False, separators=(",", ":")) if attributes else "{}",
        now,
    )


def _csv_header(reader: Any, required: Sequence[str]) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise HangTagError(INVALID_IMPORT, f"line 1: {exc}") from exc
    if not header:
        raise HangTagError(INVALID_IMPORT, "line 1: the data is empty; expected a header row")
    names = [name.strip() for name in header]
    names[0] = names[0].removeprefix("\ufeff")
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not name:
            raise HangTagError(
                INVALID_IMPORT, f"line 1: header column {index + 1} has no name", field=None
            )
        key = name.lower()
        if key in seen:
            raise HangTagError(INVALID_IMPORT, f"line 1: column {name!r} appears twice")
        seen.add(key)
    missing = [name for name in required if name not in seen]
    if missing:
        raise HangTagError(
            INVALID_IMPORT,
            f"line 1: the header has no {', '.join(repr(m) for m in missing)} column "
            f"(it has {', '.join(repr(n) for n in names)})",
        )
    return names


def _csv_rows(
    source: ImportSource, required: Sequence[str]
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header (stripped names) and the data rows with their line numbers."""
    reader = csv.reader(_text_of(source), strict=True)
    names = _csv_header(reader, required)

    def rows() -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise HangTagError(INVALID_IMPORT, f"line {reader.line_num}: {exc}") from exc
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != len(names):
                raise HangTagError(
                    INVALID_IMPORT,
                    f"line {reader.line_num}: {len(row)} fields, but the header has {len(names)}",
                )
            yield reader.line_num, row

    return names, rows()


def _jsonl_objects(source: ImportSource) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line as a JSON object (numbers as Decimal), with its line number."""
    for line_no, line in enumerate(_text_of(source), start=1):
        text = line.strip()
        if line_no == 1:
            text = text.removeprefix("\ufeff")
        if not text:
            continue
        try:
            value = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise HangTagError(INVALID_IMPORT, f"line {line_no}: not valid JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise HangTagError(
                INVALID_IMPORT,
                f"line {line_no}: expected a JSON object, got {type(value).__name__}",
            )
        yield line_no, value


def _parse_products_csv(source: ImportSource, now: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    names, rows = _csv_rows(source, ["id"])
    # "color" is accepted for "colour": exports from US systems use it.
    keys = [
        "colour"
        if name.lower() == "color"
        else name.lower()
        if name.lower() in PRODUCT_FIELDS
        else None
        for name in names
    ]
    field_index = [(key, index) for index, key in enumerate(keys) if key is not None]
    attr_index = [(names[index], index) for index, key in enumerate(keys) if key is None]
    for line_no, row in rows:
        try:
            values = {key: row[index] for key, index in field_index}
            attributes = {name: _clean_text(name, row[index]) for name, index in attr_index}
            yield line_no, _product_row(values, attributes, now)
        except _RowError as exc:
            raise _import_error(line_no, "column", exc) from None


def _parse_products_jsonl(source: ImportSource, now: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for line_no, obj in _jsonl_objects(source):
        try:
            values: dict[str, object] = {}
            attributes: dict[str, str] = {}
            for key, value in obj.items():
                if key == "color":
                    key = "colour"
                if key in PRODUCT_FIELDS:
                    values[key] = value
                elif key == "attributes":
                    if not isinstance(value, dict):
                        raise _RowError("attributes", "must be a JSON object of text values")
                    for name, text in value.items():
                        attributes[name] = _clean_text(f"attributes.{name}", text)
                else:
                    attributes.setdefault(key, _clean_text(key, value))
            yield line_no, _product_row(values, attributes, now)
        except _RowError as exc:
            raise _import_error(line_no, "field", exc) from None


def _parse_prices_csv(source: ImportSource) -> Iterator[tuple[int, str, object]]:
    names, rows = _csv_rows(source, ["product_id", "amount"])
    lowered = [name.lower() for name in names]
    # Other columns (a product name, a note) are ignored: price exports often carry them.
    id_index, amount_index = lowered.index("product_id"), lowered.index("amount")
    for line_no, row in rows:
        yield line_no, row[id_index], row[amount_index]


def _parse_prices_jsonl(source: ImportSource) -> Iterator[tuple[int, str, object]]:
    for line_no, obj in _jsonl_objects(source):
        for key in ("product_id", "amount"):
            if key not in obj:
                raise HangTagError(
                    INVALID_IMPORT, f"line {line_no}, field {key!r}: missing", field=key
                )
        yield line_no, obj["product_id"], obj["amount"]


def _price_row(ref: str, currency: str, product_id: object, amount: object) -> tuple[str, str, str]:
    if isinstance(product_id, int) and not isinstance(product_id, bool):
        product_id = str(product_id)
    if not isinstance(product_id, str) or not product_id.strip():
        raise _RowError("product_id", "the product id is missing")
    product_id = product_id.strip()
    if len(product_id) > MAX_ID_LENGTH:
        raise _RowError("product_id", f"is longer than {MAX_ID_LENGTH} characters")
    try:
        value = parse_amount(amount, currency)  # type: ignore[arg-type]  # checked inside
    except HangTagError as exc:
        raise _RowError("amount", exc.message) from exc
    return ref, product_id, str(value)


class Catalog:
    """Products, pricebooks and prices in the SQLite database at ``path`` (created if needed).

    Safe to share between threads; close it once with :meth:`close`.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            self.close()
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL (got {mode})")
        with self._write(conn):
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > _SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"the catalogue {path} has schema version {version}, newer than "
                    f"this posbridge understands ({_SCHEMA_VERSION})"
                )
            if version < _SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not self._closed:
            return conn
        with self._lock:
            if self._closed:
                raise RuntimeError("the catalogue is closed")
            # check_same_thread=False only so that close() may close every thread's
            # connection; each connection is otherwise used by its own thread alone.
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._connections.append(conn)
        # NORMAL, not FULL: the catalogue can always be imported again, and WAL with
        # NORMAL never corrupts; it only may lose the last import on power loss.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every thread's connection; later calls raise ``RuntimeError``."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    class _Transaction:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            # IMMEDIATE: take the write lock now, so a concurrent import waits here
            # instead of failing with "database is locked" at its first write.
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")

    def _write(self, conn: sqlite3.Connection | None = None) -> Catalog._Transaction:
        return Catalog._Transaction(conn if conn is not None else self._conn())

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Make every lookup in the block (on this thread) see one consistent state.

        Lookups run several statements (one per chunk of ids), and an import may commit
        between them; inside a snapshot they all read from one read transaction, so a
        batch never mixes two versions of a pricebook. Nested snapshots are fine.
        """
        conn = self._conn()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    # -- imports -------------------------------------------------------------------------

    def import_products(
        self, lines: ImportSource, fmt: ImportFormat, *, replace: bool = False
    ) -> int:
        """Import products; return how many rows were written. All or nothing.

        CSV has a header row; ``id`` is required, ``gtin, name, size, colour`` (or
        ``color``) ``, brand`` are optional, any other column becomes an attribute.
        JSON lines: one object per line with the same keys; other keys and an
        ``attributes`` object become attributes. Products already stored are updated
        (a missing field becomes ``""``); with ``replace=True`` every product not in
        this import is deleted. A product id may appear once per import.
        """
        now = _now_us()
        if fmt == "csv":
            rows = _parse_products_csv(lines, now)
        elif fmt == "jsonl":
            rows = _parse_products_jsonl(lines, now)
        else:
            raise HangTagError(INVALID_IMPORT, f"unknown import format {fmt!r}; use csv or jsonl")
        seen: dict[str, int] = {}
        count = 0
        with self._write() as conn:
            if replace:
                conn.execute("DELETE FROM products")
            batch: list[tuple[Any, ...]] = []
            for line_no, row in rows:
                first = seen.setdefault(row[0], line_no)
                if first != line_no:
                    raise HangTagError(
                        INVALID_IMPORT,
                        f"line {line_no}, column 'id': product {row[0]!r} already appears "
                        f"on line {first}",
                        field="id",
                    )
                batch.append(row)
                if len(batch) >= _BATCH:
                    conn.executemany(_UPSERT_PRODUCT, batch)
                    count += len(batch)
                    batch.clear()
            conn.executemany(_UPSERT_PRODUCT, batch)
            count += len(batch)
        return count

    def put_pricebook(
        self,
        ref: str,
        currency: str,
        prices: Iterable[tuple[str, Decimal | str | int]],
        *,
        replace: bool = True,
    ) -> int:
        """Store pricebook ``ref`` in ``currency`` with ``prices`` (product id, amount).

        Amounts are Decimals (or decimal strings / ints), checked by ``parse_amount``
        against the currency's decimals.

        With ``replace`` (the default) the pricebook holds exactly these prices
        afterwards; without it they are added to (or update) the ones stored, and the
        currency must match the stored one. Returns how many prices were written. A bad
        amount raises ``invalid_price`` naming the product and pricebook; nothing is
        stored then.
        """

        def rows() -> Iterator[tuple[str, tuple[str, str, str]]]:
            for index, pair in enumerate(prices):
                product_id, amount = pair
                try:
                    yield f"entry {index}", _price_row(ref, currency, product_id, amount)
                except _RowError as exc:
                    raise HangTagError(
                        INVALID_PRICE,
                        f"pricebook {ref}, product {product_id!r}: {exc.message}",
                        field=exc.column,
                    ) from None

        return self._store_prices(ref, currency, rows(), replace=replace, code=INVALID_PRICE)

    def import_prices(
        self,
        ref: str,
        currency: str,
        lines: ImportSource,
        fmt: ImportFormat,
        *,
        replace: bool = True,
    ) -> int:
        """Import a pricebook from CSV (``product_id,amount`` header) or JSON lines
        (``{"product_id": ..., "amount": "39.00"}``); like :meth:`put_pricebook`, but a bad
        line raises ``invalid_import`` naming the line and column."""
        if fmt == "csv":
            source = _parse_prices_csv(lines)
            label = "column"
        elif fmt == "jsonl":
            source = _parse_prices_jsonl(lines)
            label = "field"
        else:
            raise HangTagError(INVALID_IMPORT, f"unknown import format {fmt!r}; use csv or jsonl")

        def rows() -> Iterator[tuple[str, tuple[str, str, str]]]:
            for line_no, product_id, amount in source:
                try:
                    yield f"line {line_no}", _price_row(ref, currency, product_id, amount)
                except _RowError as exc:
                    raise _import_error(line_no, label, exc) from None

        return self._store_prices(ref, currency, rows(), replace=replace, code=INVALID_IMPORT)

    def _store_prices(
        self,
        ref: str,
        currency: str,
        rows: Iterator[tuple[str, tuple[str, str, str]]],
        *,
        replace: bool,
        code: str,
    ) -> int:
        validate_ref(ref)
        currency = validate_currency(currency)
        seen: dict[str, str] = {}
        count = 0
        with self._write() as conn:
            stored = conn.execute(
                "SELECT currency FROM pricebooks WHERE ref = ?", (ref,)
            ).fetchone()
            if stored is not None and not replace and stored[0] != currency:
                raise HangTagError(
                    INVALID_CURRENCY,
                    f"pricebook {ref} holds {stored[0]} prices; adding {currency} prices "
                    "needs replace",
                )
            conn.execute(_UPSERT_PRICEBOOK, (ref, currency, _now_us()))
            if replace:
                conn.execute("DELETE FROM prices WHERE ref = ?", (ref,))
            batch: list[tuple[str, str, str]] = []
            for where, row in rows:
                first = seen.setdefault(row[1], where)
                if first != where:
                    raise HangTagError(
                        code,
                        f"{where}: product {row[1]!r} of pricebook {ref} already has a "
                        f"price ({first})",
                        field="product_id",
                    )
                batch.append(row)
                if len(batch) >= _BATCH:
                    conn.executemany(_UPSERT_PRICE, batch)
                    count += len(batch)
                    batch.clear()
            conn.executemany(_UPSERT_PRICE, batch)
            count += len(batch)
        return count

    def delete_pricebook(self, ref: str) -> bool:
        """Delete pricebook ``ref`` and its prices; False if there was none."""
        with self._write() as conn:
            conn.execute("DELETE FROM prices WHERE ref = ?", (ref,))
            return conn.execute("DELETE FROM pricebooks WHERE ref = ?", (ref,)).rowcount > 0

    # -- lookups -------------------------------------------------------------------------

    def pricebook(self, ref: str) -> PricebookInfo | None:
        """The pricebook ``ref`` (a full reference), or None if it was never imported."""
        row = self._conn().execute(_PRICEBOOK_INFO + " WHERE b.ref = ?", (ref,)).fetchone()
        return None if row is None else PricebookInfo(row[0], row[1], row[3], _from_us(row[2]))

    def pricebook_currencies(self, refs: Sequence[str]) -> dict[str, str]:
        """The currency of each stored pricebook among ``refs`` (cheaper than ``pricebook``,
        which counts the prices); unknown references are absent."""
        with self.snapshot():
            conn = self._conn()
            found: dict[str, str] = {}
            for chunk in _chunks(list(dict.fromkeys(refs))):
                sql = _SELECT_CURRENCIES + _placeholders(len(chunk)) + ")"
                found.update(conn.execute(sql, chunk).fetchall())
        return found

    def pricebooks(self) -> list[PricebookInfo]:
        """Every pricebook, ordered by reference."""
        rows = self._conn().execute(_PRICEBOOK_INFO + " ORDER BY b.ref").fetchall()
        return [PricebookInfo(r[0], r[1], r[3], _from_us(r[2])) for r in rows]

    def product_count(self) -> int:
        """How many products are stored."""
        return int(self._conn().execute("SELECT COUNT(*) FROM products").fetchone()[0])

    def products(self, ids: Sequence[str]) -> dict[str, Product]:
        """The stored products among ``ids``, by id (unknown ids are simply absent)."""
        wanted = list(dict.fromkeys(ids))
        with self.snapshot():
            conn = self._conn()
            found: dict[str, Product] = {}
            # One import stamps all its rows alike, so few distinct times need converting;
            # attribute sets repeat too (same material, same care text), so each distinct
            # JSON text is decoded once and its read-only mapping shared.
            times: dict[int, datetime] = {}
            decoded: dict[str, Mapping[str, str]] = {"{}": _NO_ATTRIBUTES}
            for chunk in _chunks(wanted):
                # Only constants and placeholders are interpolated; the ids are bound.
                sql = _SELECT_PRODUCTS + _placeholders(len(chunk)) + ")"
                for pid, gtin, name, size, colour, brand, attrs, stamp in conn.execute(sql, chunk):
                    updated = times.get(stamp)
                    if updated is None:
                        updated = times[stamp] = _from_us(stamp)
                    attributes = decoded.get(attrs)
                    if attributes is None:
                        attributes = decoded[attrs] = MappingProxyType(json.loads(attrs))
                    found[pid] = Product(pid, gtin, name, size, colour, brand, attributes, updated)
        return found

    def prices(self, refs: Sequence[str], ids: Sequence[str]) -> dict[tuple[str, str], Decimal]:
        """Stored prices keyed by ``(ref, product_id)``; pairs without a price are absent."""
        wanted = list(dict.fromkeys(ids))
        with self.snapshot():
            conn = self._conn()
            found: dict[tuple[str, str], Decimal] = {}
            # Markdowns repeat a few hundred amounts; parse each text once.
            amounts: dict[str, Decimal] = {}
            for ref in dict.fromkeys(refs):
                for chunk in _chunks(wanted):
                    sql = _SELECT_PRICES + _placeholders(len(chunk)) + ")"
                    for product_id, text in conn.execute(sql, (ref, *chunk)):
                        amount = amounts.get(text)
                        if amount is None:
                            amount = amounts[text] = Decimal(text)
                        found[(ref, product_id)] = amount
        return found
