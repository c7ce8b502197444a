"""Where a study is kept: the journal file by default, database URLs, SQLite warned about."""

from __future__ import annotations

import optuna
import pytest

from seglab.errors import ConfigError
from seglab.tune.storage import hide_password, open_storage


def test_the_default_is_a_journal_file_in_the_study_folder(tmp_path):
    storage = open_storage(None, tmp_path / "s")
    assert storage.shown == str(tmp_path / "s" / "journal.log") and not storage.shared
    study = optuna.create_study(storage=storage.storage, study_name="x")
    study.add_trial(optuna.trial.create_trial(value=1.0))
    again = optuna.load_study(study_name="x", storage=open_storage(None, tmp_path / "s").storage)
    assert len(again.trials) == 1


def test_sqlite_is_warned_about(tmp_path):
    with pytest.warns(UserWarning, match="SQLite locks"):
        open_storage(f"sqlite:///{tmp_path}/s.db", tmp_path)


def test_an_unreachable_database_is_an_error_without_the_password(tmp_path):
    with pytest.raises(ConfigError) as info:
        open_storage("postgresql://me:secret@127.0.0.1:1/db", tmp_path)
    message = str(info.value)
    assert "secret" not in message and "me:***@127.0.0.1:1/db" in message
    assert "cannot open the study's database" in message


def test_a_storage_that_is_not_a_url_says_what_is_expected(tmp_path):
    with pytest.raises(ConfigError, match="expected a database URL"):
        open_storage("mydb", tmp_path)


def test_hide_password():
    assert hide_password("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert hide_password("postgresql://h/db") == "postgresql://h/db"
