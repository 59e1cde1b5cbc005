"""The SQLite store, the row mappings and the run summary: the only sqlite_utils users."""
