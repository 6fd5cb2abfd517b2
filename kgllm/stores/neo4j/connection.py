"""The Neo4j store's connection: the driver, transactions with retries, the schema, the revision."""

from __future__ import annotations

import random
import time
from typing import Any, Callable, TypeVar

from kgllm.errors import InputError, StoreError
from kgllm.stores.neo4j.records import META_LABEL, SCHEMA

__all__ = ["Connection"]

T = TypeVar("T")


class Connection:
    """A driver and how to run one unit of work in a transaction; the base of :class:`Neo4jStore`.

    Parameters
    ----------
    driver : neo4j.Driver, optional
        An open driver; :meth:`connect` makes one. ``__init__`` does no I/O.
    uri : str
        The server's URI, named in error messages.
    database : str, optional
        Database name (default: the server's default database).
    batch_size : int
        Facts (or entities) written per transaction by ``upsert``.
    retry_timeout : float
        Seconds during which transient errors and lost connections are retried
        (exponential backoff) before :class:`~kgllm.errors.StoreError` is raised.
    query_timeout : float
        Transaction timeout in seconds of ``query``.
    """

    def __init__(self, driver: Any = None, uri: str = "", database: str | None = None, batch_size: int = 1000,
                 retry_timeout: float = 30.0, query_timeout: float = 30.0) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        self._driver = driver
        self.uri = uri
        self.database = database
        self.batch_size = batch_size
        self.retry_timeout = retry_timeout
        self.query_timeout = query_timeout
        self.on_batch: Callable[[str, int, int], None] | None = None
        """Called after each committed upsert batch with (kind, done, total); for progress and tests."""

    @classmethod
    def connect(cls: type[T], uri: str, auth: tuple[str, str] | None = None, database: str | None = None,
                batch_size: int = 1000, *, retry_timeout: float = 30.0, query_timeout: float = 30.0,
                connection_timeout: float = 5.0) -> T:
        """Open a driver, check the server answers and create the constraints and indexes.

        Parameters
        ----------
        uri : str
            ``bolt://HOST:PORT`` or ``neo4j://HOST:PORT``.
        auth : tuple of (str, str), optional
            ``(user, password)``; ``None`` for a server without authentication.
        database : str, optional
            Database name; default the server's default.
        batch_size : int
            Facts per write transaction.
        retry_timeout, query_timeout : float
            See :class:`Connection`.
        connection_timeout : float
            Seconds to wait for a TCP connection.

        Returns
        -------
        Neo4jStore
            A connected store; call :meth:`close` when done.

        Raises
        ------
        StoreError
            The server cannot be reached (the message names the URI) or refused the credentials.
        """
        try:
            import neo4j
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise StoreError("the Neo4j store needs the neo4j driver: pip install 'neo4j>=5.20'") from exc
        try:
            driver = neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=connection_timeout,
                                                max_transaction_retry_time=retry_timeout,
                                                connection_acquisition_timeout=max(connection_timeout, 10.0),
                                                notifications_min_severity="OFF")
        except (neo4j.exceptions.ConfigurationError, ValueError) as exc:
            raise StoreError(f"invalid Neo4j URI {uri!r}: {exc}") from exc
        store = cls(driver, uri, database, batch_size, retry_timeout, query_timeout)  # type: ignore[call-arg]
        try:
            store.ensure_schema()  # type: ignore[attr-defined]
        except BaseException:
            driver.close()
            raise
        return store

    def ensure_schema(self) -> None:
        """Create the uniqueness constraints and the full-text index if missing, and wait for them."""

        def work(tx: Any) -> None:
            for statement in SCHEMA:
                tx.run(statement).consume()

        self._run("create schema", work, write=True)
        self._run("await indexes", lambda tx: tx.run("CALL db.awaitIndexes(300)").consume(), write=False)

    def revision(self) -> int:
        """The graph's revision: a counter in the database bumped by each write transaction that changes it.

        Writes from other processes count too, so a cache keyed by it sees them.
        """
        rows = self._run("read revision", lambda tx: tx.run(
            f"OPTIONAL MATCH (m:{META_LABEL} {{key: 'graph'}}) RETURN coalesce(m.revision, 0) AS r").single(),
            write=False)
        return int(rows["r"])

    def close(self) -> None:
        """Close the driver and its connections."""
        if self._driver is not None:
            self._driver.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r}, database={self.database!r})"

    def _read(self, operation: str, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return self._run(operation, lambda tx: [r.data() for r in tx.run(cypher, params)], write=False)

    def _run(self, operation: str, work: Callable[[Any], T], *, write: bool, timeout: float | None = None) -> T:
        """Run ``work(tx)`` in one transaction (READ or WRITE access), retrying transient failures.

        Raises
        ------
        StoreError
            Not connected, authentication failed, or the server stayed unreachable for ``retry_timeout``.
        InputError
            The server rejected the statement (syntax, a read transaction asked to write, ...).
        """
        import neo4j
        from neo4j import exceptions as nx

        if self._driver is None:
            raise StoreError(f"{operation}: the Neo4j store is not connected (use Neo4jStore.connect)")
        deadline = time.monotonic() + self.retry_timeout
        delay = 0.05
        mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
        while True:
            try:
                with self._driver.session(database=self.database, default_access_mode=mode) as session:
                    tx = session.begin_transaction(timeout=timeout)
                    try:
                        result = work(tx)
                        tx.commit()
                        return result
                    finally:
                        if not tx.closed():
                            tx.close()
            except (InputError, StoreError):
                raise
            except nx.AuthError as exc:
                raise StoreError(f"Neo4j at {self.uri}: {operation}: authentication failed: {exc}") from exc
            except (nx.ServiceUnavailable, nx.SessionExpired, nx.IncompleteCommit, nx.TransientError,
                    ConnectionError) as exc:
                retryable = not isinstance(exc, nx.Neo4jError) or exc.is_retryable()
                if not retryable or time.monotonic() + delay > deadline:
                    raise StoreError(f"Neo4j at {self.uri}: {operation} failed "
                                     f"(retried for {self.retry_timeout:g}s): {type(exc).__name__}: {exc}") from exc
                time.sleep(delay * (1 + random.random() * 0.2))
                delay = min(delay * 2, 2.0)
            except nx.ClientError as exc:
                raise InputError(f"Neo4j rejected {operation}: {exc.message or exc}") from exc
            except (nx.Neo4jError, nx.DriverError, OSError) as exc:
                raise StoreError(f"Neo4j at {self.uri}: {operation} failed: {type(exc).__name__}: {exc}") from exc
