"""The store and the output contracts: the only sqlite_utils users.

db.py (schema, opening, the run writer), rows.py (each table's row and its JSON side by side),
summary.py (the run document), run.py (one run from begin to end, for analyze and sniff),
decode_doc.py (decode's JSON objects)."""
