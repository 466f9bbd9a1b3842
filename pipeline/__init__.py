"""The route of a call after the PBX: a finished call becomes a stored call with its transcript.

`call_pipeline.CallPipeline` takes the telephony bus's events and stores every call (pending while it
runs, for good when it ends), then queues its recording for transcription through the small
`transcription_jobs.TranscriptionJobs` protocol (the embedded spool or RQ, chosen at wiring);
`transcription_results.store_transcription` attaches a finished transcription to its call and
`call_analysis` stores the call's service-standard check and entities; `catch_up` queues the recorded
calls a stopped process never had transcribed.

Imports: `telephony`, `transcripts`, `cases`, and `agent_console.metrics` (this process's counters);
nothing of `hotline_cli`, which wires it.
"""
