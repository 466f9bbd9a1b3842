"""A finished transcription onto its call: the transcripts, the speaker turns, the service check."""

from __future__ import annotations

import json
import logging

from cases.call_records import get_call
from cases.case_records import link_call
from cases.db import Database
from cases.errors import CasesError
from cases.transcript_records import attach_transcript
from pipeline.call_analysis import store_call_analysis
from pipeline.transcription_jobs import IVR_JOB, linkedid_of_job
from transcripts.jobs import TranscriptionResult
from transcripts.standard import Rules, load_rules
from transcripts.turns import turns_text

log = logging.getLogger("hotline")


def store_transcription(db: Database, result: TranscriptionResult, rules: Rules | None = None) -> None:
    """Attach a finished transcription to its call (or, for an IVR description, to its case too), then
    store the call's service-standard check (`rules`, default the built-in ones) and entities.
    Raises what the database raises for the transcripts: the caller decides whether to retry."""
    if result.job_id.startswith(IVR_JOB):
        case_id, _, linkedid = result.job_id[len(IVR_JOB):].partition(":")
        with db.session() as s:
            link_call(s, int(case_id), linkedid, "ivr")
            for t in result.transcripts:
                words = json.dumps([{"word": w.word, "start": w.start, "end": w.end, "conf": w.conf}
                                    for w in t.words], ensure_ascii=False)
                attach_transcript(s, linkedid, engine="vosk-ivr", model=t.model, speaker="caller", text=t.text,
                                  words_json=words, duration_s=t.duration_s)
        log.info("IVR description of call %s transcribed onto case %s", linkedid, case_id)
        return
    with db.session() as s:
        for t in result.transcripts:
            words = json.dumps([{"word": w.word, "start": w.start, "end": w.end, "conf": w.conf}
                                for w in t.words], ensure_ascii=False)
            attach_transcript(s, result.job_id, engine=t.engine, model=t.model, speaker=t.speaker,
                              text=t.text, words_json=words, duration_s=t.duration_s)
        if result.transcripts and result.turns:
            # the conversation as speaker turns in time order (customer / agent)
            attach_transcript(s, result.job_id, engine="vosk-turns", model=result.transcripts[0].model,
                              speaker="mixed", text=turns_text(result.turns), words_json=result.turns_json(),
                              duration_s=max(t.duration_s for t in result.transcripts))
    log.info("call %s transcribed (%s)", result.job_id,
             "; ".join(f"{t.speaker}: {t.text[:40]}" for t in result.transcripts))
    if result.transcripts:
        store_call_analysis(db, result, rules if rules is not None else load_rules())


def call_ended_at(db: Database, job_id: str) -> float | None:
    """When the call of a transcription job ended (epoch seconds), None if unknown."""
    linkedid = linkedid_of_job(job_id)
    try:
        with db.session() as s:
            call = get_call(s, linkedid)
            return call.ended_at.timestamp() if call is not None and call.ended_at is not None else None
    except CasesError:
        return None
