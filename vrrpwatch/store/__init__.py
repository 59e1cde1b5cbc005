"""The store and the output contracts: the only sqlite_utils users.

schema.py (the tables, and bringing an older database up to date), db.py (opening only our own
file, write transactions), recorder.py (the run writer: ``Store``), writers.py (the
process a run records, and whether it is gone: ``interrupted``), keys.py (the fingerprint key,
kept beside the database), rows.py (each table's row and its JSON side by side), summary.py
(the run document, read in one transaction), run.py (one run from begin to end, for analyze and
sniff), decode_doc.py (decode's JSON objects)."""
