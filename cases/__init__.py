"""Cases: customers, shipments, calls, cases, transcripts and users of the Hotline contact centre.

Other packages call `cases.services` (functions taking a SQLAlchemy `Session` first and returning
frozen dataclass views) and `cases.db.Database` (engine, migrations, sessions).
"""
