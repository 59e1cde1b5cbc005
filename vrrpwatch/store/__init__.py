"""The store and the output contracts: the only sqlite_utils users.

db.py (schema, opening only our own file, write transactions, the run writer), writers.py (the
process a run records, and whether it is gone: ``interrupted``), keys.py (the fingerprint key,
kept beside the database), rows.py (each table's row and its JSON side by side), summary.py
(the run document, read in one transaction), run.py (one run from begin to end, for analyze and
sniff), decode_doc.py (decode's JSON objects)."""
