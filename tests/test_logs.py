import io
import json

from runner.logs import configure_logging, get_logger, redact, redact_text


def test_secret_keys_are_redacted_recursively() -> None:
    event = {
        "password": "hunter2",
        "es": {"api_key": "abc", "hosts": ["https://u:pw@es:9200"], "user": "elastic"},
        "headers": {"Authorization": "ApiKey Zm9vOmJhcg=="},
    }
    cleaned = redact(event)
    assert cleaned["password"] == "***"
    assert cleaned["es"]["api_key"] == "***"
    assert cleaned["es"]["hosts"] == ["https://u:***@es:9200"]
    assert cleaned["es"]["user"] == "elastic"
    assert cleaned["headers"]["Authorization"] == "***"


def test_credentials_inside_free_text_are_redacted() -> None:
    text = "GET https://elastic:changeme@es:9200/ failed; header Authorization: Basic ZWxhc3RpYw=="
    cleaned = redact_text(text)
    assert "changeme" not in cleaned
    assert "ZWxhc3RpYw==" not in cleaned
    assert "Basic ***" in cleaned


def test_json_lines_when_not_a_tty_and_redaction_applies() -> None:
    stream = io.StringIO()
    configure_logging("info", "auto", stream=stream)
    log = get_logger()
    log.info("connecting", url="https://elastic:pw@es:9200", api_key="secret-value")
    log.debug("hidden at info level")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "connecting"
    assert record["level"] == "info"
    assert record["api_key"] == "***"
    assert "pw@" not in record["url"]


def test_console_format_is_not_json() -> None:
    stream = io.StringIO()
    configure_logging("debug", "console", stream=stream)
    get_logger().debug("hello", rule="emond")
    output = stream.getvalue()
    assert "hello" in output and "rule" in output
    assert not output.lstrip().startswith("{")
