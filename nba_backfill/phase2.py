"""The Phase 2 inputs nba-backfill reads (SPEC §3), as production's contract defines them.

Nothing here restates a schema: each name resolves to production's table contract
(``nba_backfill/contract/warehouse.json``: columns, types, modes, partitioning, clustering). The
synthetic generator writes these tables and the Phase 3 SQL reads them."""

from __future__ import annotations

from nba_backfill import contract
from nba_backfill.contract import TableContract

RawTable = TableContract

SCHEDULE = contract.table("nba_raw.nbac_schedule")
GAMEBOOK = contract.table("nba_raw.nbac_gamebook_player_stats")
TEAM_BOXSCORE = contract.table("nba_raw.nbac_team_boxscore")
PLAY_BY_PLAY = contract.table("nba_raw.nbac_play_by_play")
PLAYER_PROPS = contract.table("nba_raw.odds_api_player_points_props")
GAME_LINES = contract.table("nba_raw.odds_api_game_lines")
INJURY_REPORT = contract.table("nba_raw.nbac_injury_report")
PLAYERS_REGISTRY = contract.table("nba_reference.nba_players_registry")
# Production's fallbacks behind player_game_summary's source_bdl_* / source_bp_* tracking.
BDL_BOXSCORES = contract.table("nba_raw.bdl_player_boxscores")
BETTINGPROS_PROPS = contract.table("nba_raw.bettingpros_player_points_props")

RAW_TABLES: tuple[TableContract, ...] = (
    SCHEDULE,
    GAMEBOOK,
    TEAM_BOXSCORE,
    PLAY_BY_PLAY,
    PLAYER_PROPS,
    GAME_LINES,
    INJURY_REPORT,
    PLAYERS_REGISTRY,
    BDL_BOXSCORES,
    BETTINGPROS_PROPS,
)
RAW_BY_NAME = {t.name: t for t in RAW_TABLES}
