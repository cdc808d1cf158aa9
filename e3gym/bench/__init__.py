"""The leaderboard: suites, cells, scores, reports (``e3gym bench``)."""
