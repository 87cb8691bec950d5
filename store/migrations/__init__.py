"""Numbered SQL migrations (data files, applied in order by store.migrate)."""
