"""The reduction's SQL helpers: written out per engine (``portable.expand``) as the macros mean.

The Spark side runs in ``test_focus_spark.py`` (marker ``spark``); here DuckDB checks that a
helper written out gives what its macro gives, so the text Spark receives is built right.
"""

from __future__ import annotations

import duckdb
import pytest

from providers.focus import portable

CALLS = [
    "ladder_re('Windows SQL Std', '(?i)sql (server )?(std|standard)')",
    "ladder_re_full('m5.large', '[a-z][a-z0-9-]*[0-9][a-z0-9-]*\\.[a-z0-9-]+')",
    "ladder_re_full('xm5.large yes', 'm5[.]large')",
    "ladder_replace_all('Amazon  Web, Services', '[^a-z0-9]+', '-')",
    "ladder_json('{\"InstanceType\": \"m5.large\", \"a\": \"(,)\"}', '$.InstanceType')",
    "ladder_json('{not json', '$.InstanceType')",
    "ladder_json_valid('{\"a\": 1}')",
    "ladder_json_valid('{not json')",
    "ladder_finite(CAST('inf' AS DOUBLE))",
    "ladder_finite(2.5)",
    "ladder_us(TIMESTAMPTZ '2024-09-01 01:00:00+00')",
    "ladder_ts('2024-09-01T00:00:00Z')",
    "ladder_ts('yesterday')",
    "ladder_re(ladder_replace_all(lower('A,B'), ',', ' and '), 'a and b')",
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    for statement in portable.prelude("duckdb"):
        connection.execute(statement)
    return connection


@pytest.mark.parametrize("call", CALLS)
def test_a_helper_written_out_gives_what_its_macro_gives(con: duckdb.DuckDBPyConnection,
                                                         call: str) -> None:
    expanded = portable.expand(call, "duckdb")
    assert "ladder_" not in expanded
    assert con.execute(f"SELECT {expanded}").fetchone() == con.execute(
        f"SELECT {call}").fetchone()


def test_spark_gets_its_own_spelling_with_quoted_text_left_whole() -> None:
    sql = "x AND ladder_re(lower(a), '(?i)x(y), z') OR ladder_json(j, 'it''s ($)')"
    assert portable.expand(sql, "spark") == (
        "x AND (regexp_like((lower(a)), ('(?i)x(y), z'))) "
        "OR (get_json_object((j), ('it''s ($)')))")


def test_a_wrong_call_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown helper ladder_nope"):
        portable.expand("ladder_nope(1)", "spark")
    with pytest.raises(ValueError, match="takes 2 arguments, got 1"):
        portable.expand("ladder_re(a)", "spark")


def test_the_reduction_text_names_only_known_helpers() -> None:
    from providers.focus.reader import EC2_RULES

    for sql in (portable.classify_sql(EC2_RULES, ["x_UsageType"], []), portable.HOURLY_SQL,
                portable.SPAN_SQL, portable.keys_sql("ec2"),
                portable.daily_sql(portable.cost_line_sql(["usage_key", "tags"]), "is_used",
                                   ["usage_key", "tags"], portable.COST_SUMS)):
        assert "ladder_" not in portable.expand(sql, "spark").replace("ladder_offsets", "")
