"""Built-in agents by short name -> ``module:Class`` (imported only when used)."""

BUILTIN: dict[str, str] = {}
