"""Where a study's trials are kept: a journal file beside the study (the default: no server,
safe for several worker processes on one machine), or any database URL Optuna accepts, to share
a study across processes and machines.

SQLite locks under parallel writers (optuna issues 820, 4994): a SQLite URL is accepted with a
warning that says what to use instead. ``postgresql://`` URLs use the psycopg2 driver when it is
installed, else pg8000 (pure Python, ``pip install seglab[postgres]``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seglab.errors import ConfigError

JOURNAL = "journal.log"
"""The default storage: an Optuna journal file in the study folder."""


@dataclass(frozen=True)
class Storage:
    """An opened storage (``storage``: what ``optuna.create_study`` takes) and how to name it
    to people (``shown``: a journal's file name, or the URL with its password hidden)."""

    storage: Any
    shown: str
    shared: bool  # a database other machines may use too


def hide_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _driver_url(url: str) -> str:
    """A ``postgresql://`` URL with a driver that is installed (psycopg2, else pg8000)."""
    import importlib.util

    if not url.startswith(("postgresql://", "postgres://")):
        return url
    rest = url.split("://", 1)[1]
    for module, dialect in (("psycopg2", "postgresql+psycopg2"), ("pg8000", "postgresql+pg8000")):
        if importlib.util.find_spec(module) is not None:
            return f"{dialect}://{rest}"
    raise ConfigError(
        f"--storage {hide_password(url)}: no PostgreSQL driver is installed; "
        "pip install 'seglab[postgres]' (pg8000) or psycopg2"
    )


def open_storage(url: str | None, study_dir: Path) -> Storage:
    """The storage of ``url`` (``None``: ``study_dir/journal.log``).

    Raises
    ------
    ConfigError
        A URL Optuna cannot open (the database is unreachable, the driver is missing), with
        the URL (password hidden) and the reason.
    """
    import optuna

    if url is None or url.startswith("journal:") or url.endswith(".log"):
        path = Path(url.removeprefix("journal:")) if url else Path(study_dir) / JOURNAL
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(
            str(path), lock_obj=optuna.storages.journal.JournalFileOpenLock(str(path))
        )
        return Storage(optuna.storages.JournalStorage(backend), str(path), shared=False)
    if "://" not in url:
        raise ConfigError(
            f"--storage {url!r}: expected a database URL (postgresql://user:pass@host/db, "
            "mysql://...) or a journal file (*.log)"
        )
    if url.startswith("sqlite"):
        warnings.warn(
            f"--storage {url}: SQLite locks when several workers write at once (optuna issues "
            "820, 4994); for parallel workers use the default journal file (one machine) or "
            "PostgreSQL (several machines)",
            UserWarning,
            stacklevel=2,
        )
    shown = hide_password(url)
    try:
        storage = _rdb_storage(_driver_url(url))
    except ConfigError:
        raise
    except Exception as exc:  # SQLAlchemy's errors: unreachable server, bad credentials...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--storage {shown}: cannot open the study's database: {first}") from None
    return Storage(storage, shown, shared=not url.startswith("sqlite"))


def _rdb_storage(url: str, *, tries: int = 6):
    """Optuna's RDBStorage of ``url``. Workers started together on an empty database race to
    create Optuna's tables, and all but one fail with an integrity or "already exists" error:
    those try again once the winner's tables are there."""
    import time

    import optuna
    import sqlalchemy.exc

    for attempt in range(tries):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
