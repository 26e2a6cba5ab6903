-- One row per prop-line snapshot (book, player, game, scrape time; latest load wins), typed. Snapshots
-- after tip-off (minutes_before_tipoff < 0) are kept here and left out by every feature that reads them.
with source as (
    select * from {{ source('nba_raw', 'odds_api_player_points_props') }}
)

select
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(player_lookup as {{ dbt.type_string() }}) as player_lookup,
    cast(bookmaker as {{ dbt.type_string() }}) as bookmaker,
    cast(snapshot_timestamp as {{ dbt.type_timestamp() }}) as snapshot_timestamp,
    cast(minutes_before_tipoff as {{ dbt.type_bigint() }}) as minutes_before_tipoff,
    cast(points_line as {{ type_float64() }}) as points_line,
    cast(over_price as {{ dbt.type_bigint() }}) as over_price,
    cast(under_price as {{ dbt.type_bigint() }}) as under_price,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where
    game_id is not null and player_lookup is not null and bookmaker is not null
    and snapshot_timestamp is not null
{{ latest_row_per_key(['game_id', 'player_lookup', 'bookmaker', 'snapshot_timestamp']) }}
