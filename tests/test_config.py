from datetime import timedelta
from pathlib import Path

import pytest

from runner.config import load_settings
from runner.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runner.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    settings = load_settings(config_file=None, environ={})
    assert settings.store == Path(".runner/runner.duckdb")
    assert settings.rules is None
    assert not settings.elasticsearch.configured
    assert settings.grace == timedelta(seconds=30)


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        'store = "/from/file.duckdb"\nrules = "/file/rules"\nlog_level = "debug"\n'
        '[elasticsearch]\nhosts = ["https://es1:9200", "https://es2:9200"]\nverify_certs = false\n'
        '[daemon]\nworkers = 4\ngrace = "45s"\n',
    )
    settings = load_settings(
        config_file=config,
        environ={"RUNNER_STORE": "/from/env.duckdb", "RUNNER_LOG_LEVEL": "warning"},
        overrides={"log_level": "error", "rules": None},
    )
    assert settings.store == Path("/from/env.duckdb")  # env beats file
    assert settings.log_level == "error"  # flag beats env
    assert settings.rules == Path("/file/rules")  # an absent flag does not erase the file value
    assert settings.elasticsearch.hosts == ("https://es1:9200", "https://es2:9200")
    assert settings.elasticsearch.verify_certs is False
    assert settings.workers == 4
    assert settings.grace == timedelta(seconds=45)


def test_env_url_list_and_bool_parsing() -> None:
    settings = load_settings(
        environ={
            "RUNNER_ES_URL": "http://a:9200,http://b:9200",
            "RUNNER_ES_VERIFY_CERTS": "no",
            "RUNNER_ES_MAX_RETRIES": "5",
        }
    )
    assert settings.elasticsearch.hosts == ("http://a:9200", "http://b:9200")
    assert settings.elasticsearch.verify_certs is False
    assert settings.elasticsearch.max_retries == 5


def test_every_problem_is_reported_with_its_key(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        'log_level = "loud"\nstorage = "x"\n[daemon]\nworkers = 0\ngrace = "soon"\n'
        '[elasticsearch]\nhosts = "es:9200"\npassword = "hunter2"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file=config, environ={"RUNNER_ES_MAX_RETRIES": "many"})
    keys = {p.key for p in caught.value.problems}
    assert keys == {
        "log_level",
        "storage",
        "daemon.workers",
        "daemon.grace",
        "elasticsearch.hosts",
        "RUNNER_ES_MAX_RETRIES",
        "elasticsearch.username",
    }
    text = str(caught.value)
    assert "unknown setting" in text
    assert "hunter2" not in text  # secrets never echo back


def test_url_credentials_are_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"RUNNER_ES_URL": "ftp://elastic:s3cret@host:9200"})
    assert "s3cret" not in str(caught.value)
    assert "elastic:***@" in str(caught.value)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(config_file=tmp_path / "nope.toml", environ={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, "store = \n")
    with pytest.raises(ConfigError, match=r"runner\.toml"):
        load_settings(config_file=config, environ={})
