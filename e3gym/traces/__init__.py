"""Real bandwidth traces shipped with e3gym; licences and citations in README.md."""
