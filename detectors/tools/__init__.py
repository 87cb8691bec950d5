"""Build-time tools that regenerate catalogue data files (not imported at run time)."""
