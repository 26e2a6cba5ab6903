"""Duplicate-key MERGE regression on the BigQuery emulator (docs/decisions.md#unique-before-merge).

Legacy hit `UPDATE/MERGE must match at most one source row for each target row` when a player
appeared twice in a batch. DuckDB never raises that error, so the proof runs on the BigQuery
emulator: scripts/bigquery_emulator.py starts it, builds the project and then runs this file with

    BQ_EMULATOR_ENDPOINT  the emulator (http://127.0.0.1:PORT)
    BQ_PROJECT            the project id the datasets live in
    BQ_REGRESSION_DATE    a date the project has already built incrementally
    BQ_OUTPUT_KEYS        JSON {table: key columns} of the outputs the SQL build writes (from the manifest)
    DBT_EXECUTABLE, DBT_PROFILES_DIR, DBT_TARGET_PATH, DBT_LOG_PATH   how to run dbt there
                          (DBT_PROFILES_DIR holds a copy of profiles.yml.template)

Without BQ_EMULATOR_ENDPOINT every test is skipped (they need the emulator).
"""

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

ENDPOINT = os.environ.get("BQ_EMULATOR_ENDPOINT")
PROJECT = os.environ.get("BQ_PROJECT", "nba-props-platform")
PROJECT_DIR = Path(__file__).resolve().parents[2]
MERGE_ERROR = "UPDATE/MERGE must match at most one source row"
OUTPUT_KEYS = json.loads(os.environ.get("BQ_OUTPUT_KEYS", "{}"))  # scripts/project_outputs.py, via the emulator run

pytestmark = pytest.mark.skipif(not ENDPOINT, reason="needs the BigQuery emulator (scripts/bigquery_emulator.py)")


@pytest.fixture(scope="module")
def client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    bq = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": ENDPOINT})
    yield bq
    bq.close()


def rows(client, sql):
    return [dict(row) for row in client.query(sql).result()]


def table(dataset, name):
    return f"`{PROJECT}`.`{dataset}`.`{name}`"


def test_plain_merge_with_duplicate_source_keys_fails(client):
    """The engine behaviour the models guard against: two source rows for one target row."""
    scratch = f"merge_regression_{uuid.uuid4().hex[:8]}"
    client.create_dataset(f"{PROJECT}.{scratch}")
    try:
        client.query(f"create table {table(scratch, 'target')} as select 'lebron_james' as player_lookup, 10 as points").result()
        client.query(
            f"create table {table(scratch, 'source')} as"
            " select 'lebron_james' as player_lookup, 20 as points union all select 'lebron_james', 30"
        ).result()
        with pytest.raises(Exception) as raised:
            client.query(
                f"merge into {table(scratch, 'target')} as t using {table(scratch, 'source')} as s"
                " on t.player_lookup = s.player_lookup"
                " when matched then update set points = s.points"
                " when not matched then insert (player_lookup, points) values (s.player_lookup, s.points)"
            ).result()
        assert MERGE_ERROR in str(raised.value)
        # The same MERGE from a source deduplicated at the grain succeeds.
        client.query(
            f"merge into {table(scratch, 'target')} as t using"
            f" (select * from {table(scratch, 'source')} qualify row_number() over (partition by player_lookup order by points desc) = 1) as s"
            " on t.player_lookup = s.player_lookup"
            " when matched then update set points = s.points"
            " when not matched then insert (player_lookup, points) values (s.player_lookup, s.points)"
        ).result()
        assert rows(client, f"select player_lookup, points from {table(scratch, 'target')}") == [
            {"player_lookup": "lebron_james", "points": 30}
        ]
    finally:
        client.delete_dataset(f"{PROJECT}.{scratch}", delete_contents=True, not_found_ok=True)


def test_models_build_with_unique_keys_from_duplicate_source_rows(client):
    """A re-processed player_game_summary row (same key, later processed_at) reaches the source
    table twice; the incremental build of an already built date still succeeds, staging keeps the
    latest row, and every output table keeps one row per key."""
    run_date = os.environ["BQ_REGRESSION_DATE"]
    source = table("nba_analytics", "player_game_summary")
    # A played game before the date of a player on that date's slate, so the daily cache reads it.
    candidate = rows(
        client,
        f"select pgs.player_lookup, pgs.game_id, pgs.points"
        f" from {source} as pgs"
        f" inner join {table('nba_analytics', 'upcoming_player_game_context')} as upcoming"
        f"   on upcoming.player_lookup = pgs.player_lookup and upcoming.game_date = '{run_date}'"
        f" where pgs.game_date < '{run_date}' and pgs.is_active and pgs.minutes_played > 0"
        f" order by pgs.game_date desc, pgs.player_lookup limit 1",
    )[0]
    key = f"player_lookup = '{candidate['player_lookup']}' and game_id = '{candidate['game_id']}'"
    replaced = {
        "points": "points + 7",
        "ft_makes": "ft_makes + 7",  # points stay what the makes give (stg_player_game_summary__rows_are_valid)
        "processed_at": "timestamp_add(processed_at, interval 1 day)",
        "data_hash": "concat(substr(data_hash, 1, 15), 'x')",
    }
    columns = [field.name for field in client.get_table(f"{PROJECT}.nba_analytics.player_game_summary").schema]
    client.query(
        f"insert into {source} ({', '.join(columns)})"
        f" select {', '.join(replaced.get(c, c) for c in columns)} from {source} where {key}"
    ).result()
    assert rows(client, f"select count(*) as n from {source} where {key}") == [{"n": 2}]

    result = subprocess.run(
        [os.environ.get("DBT_EXECUTABLE", "dbt"), "build", "--profile", "nba_precompute_emulator", "--target", "prod",
         "--selector", "bigquery_sql", "--exclude-resource-type", "unit_test", "--vars", f"{{date: {run_date}}}"],
        cwd=PROJECT_DIR, capture_output=True, text=True,
    )
    output = result.stdout + result.stderr
    work_dir = os.environ.get("BQ_REGRESSION_WORK_DIR")
    if work_dir:
        Path(work_dir, "regression-build.out").write_text(output)
    assert result.returncode == 0, output[-4000:]
    assert MERGE_ERROR not in output

    staged = rows(client, f"select points from {table('nba_staging', 'stg_nba_analytics__player_game_summary')} where {key}")
    assert staged == [{"points": candidate["points"] + 7}], "staging must keep the latest processed_at row"
    for name, keys in OUTPUT_KEYS.items():
        key_sql = ", ".join(keys)
        duplicated = rows(client, f"select {key_sql}, count(*) as n from {table('nba_precompute', name)}"
                                  f" group by {key_sql} having count(*) > 1")
        assert duplicated == [], f"{name} has duplicate keys: {duplicated[:3]}"
    # The re-processed game changed the player's daily cache row for the date: the MERGE updated it.
    changed = rows(client, f"select processed_at > created_at as rewritten from {table('nba_precompute', 'player_daily_cache')}"
                           f" where player_lookup = '{candidate['player_lookup']}' and cache_date = '{run_date}'")
    assert changed == [{"rewritten": True}], changed
