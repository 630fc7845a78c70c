"""Logs are one event a line; JSON when configured, with the structured fields."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import orjson

from entrypoints.logs import JsonFormatter, TextFormatter
from tests.conftest import SAMPLE_ID


def emit(formatter: logging.Formatter, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test-{id(formatter)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning("dead-lettered message\nsecond line", extra=extra)
    return stream.getvalue()


def test_json_lines_carry_the_event_fields() -> None:
    line = emit(JsonFormatter(), order_uid=SAMPLE_ID, partition=2, offset=41)
    assert line.count("\n") == 1  # one event, one line, even with a newline in the message
    event = orjson.loads(line)
    assert event["message"] == "dead-lettered message\nsecond line"
    assert event["level"] == "WARNING"
    assert (event["order_uid"], event["partition"], event["offset"]) == (
        SAMPLE_ID,
        2,
        41,
    )


def test_text_lines_append_the_fields() -> None:
    line = emit(TextFormatter("%(levelname)s %(message)s"), partition=1, offset=7)
    assert line.count("\n") == 1
    assert line.rstrip().endswith("partition=1 offset=7")
    assert "message\\nsecond line" in line


def test_uvicorns_colour_codes_never_reach_the_logs() -> None:
    coloured = "\x1b[32mINFO\x1b[0m:     Started server process"
    for formatter in (TextFormatter(), JsonFormatter()):
        line = emit(formatter, color_message=coloured)
        assert "\x1b[" not in line
        assert "color_message" not in line


def test_every_line_says_its_time_in_utc_to_the_millisecond() -> None:
    json_time = orjson.loads(emit(JsonFormatter()))["time"]
    text_time = emit(TextFormatter("%(asctime)s %(message)s")).split(" ", 1)[0]
    for stamp in (json_time, text_time):
        assert stamp.endswith("Z")
        moment = datetime.fromisoformat(stamp)
        assert moment.utcoffset() == timedelta(0)
        assert len(stamp.split(".")[1]) == len("123Z")  # milliseconds
        assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)
