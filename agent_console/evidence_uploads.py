"""Claim evidence uploaded on the desks (the claims desk's `add_evidence` step, the branch desk's upload):
stored under `ConsoleConfig.evidence_dir`, at most `evidence_max_bytes` per file (cases.claims checks
the type and content)."""

from __future__ import annotations

from pathlib import Path

from flask import request
from sqlalchemy.orm import Session

from agent_console.context import console
from agent_console.desk_forms import FormError
from cases import claims as cl


def evidence_store() -> cl.EvidenceStore:
    cfg = console().config
    if cfg.evidence_dir is None:
        raise FormError("work.err.no_evidence_dir", "no evidence folder is configured")
    return cl.EvidenceStore(root=Path(cfg.evidence_dir), max_bytes=cfg.evidence_max_bytes)


def upload_evidence(s: Session, claim_id: int, who: str) -> None:
    store = evidence_store()
    if (request.content_length or 0) > store.max_bytes + 64 * 1024:
        raise FormError("work.err.too_large", f"the upload is {request.content_length} bytes; at most "
                        f"{store.max_bytes} per file are accepted")
    files = request.files.getlist("file")
    if not files or not any(f.filename for f in files):
        raise FormError("work.err.no_file", "choose a file to upload")
    for f in files:
        if not f.filename:
            continue
        data = f.stream.read(store.max_bytes + 1)
        cl.add_evidence(s, claim_id, filename=f.filename, data=data, content_type=f.mimetype or "",
                        store=store, by=who)

