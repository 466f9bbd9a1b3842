"""Cases: customers, shipments, calls, cases, transcripts and users of the Hotline contact centre.

Other packages call the functions of the modules below and `cases.db.Database` (engine, migrations,
sessions). Every function takes a SQLAlchemy `Session` first, flushes but never commits (the caller's
`Database.session()` block does), and returns frozen views from `cases.views`. Input errors raise
before anything is written, so a failed call leaves stored data unchanged.

- `cases.call_records`: storing and reading call records; `cases.transcript_records`: their transcripts;
  `cases.call_access`: which calls an agent may see, and assigning one to it.
- `cases.caller_context`: what the screen pop shows for a caller.
- `cases.customers`, `cases.shipment_records`: customers (by phone, `cases.phones`) and shipments.
- `cases.case_records`: opening, changing, linking and reading cases (status rules: `cases.workflow`).
- `cases.complaints`, `cases.claims`, `cases.changes`, `cases.inspections`: the workflows (`cases.workflow`);
  `cases.referrals` (a department desk's referrals) and `cases.follow_ups` (回访) around complaints.
- `cases.audit`: the audit log; `cases.inputs`: the input checks every writer shares.
- `cases.accounts`: users and logins; `cases.passwords`: password hashing; `cases.sessions`: console sessions.
- `cases.demo_seed`: seeding `cases.demo_data`.
- `cases.models`: the ORM schema, one module per concept, all on one declarative `Base`.
"""
