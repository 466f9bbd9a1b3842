"""`hotline probe`: one real SIP call to a hotline through the PBX, to tell whether it is up.

The probe registers with the PBX (pyVoIP 1.6.8 cannot call without registering), dials the
hotline, measures the answer, listens for the menu prompt, walks the menu with RFC 2833 keys
(sent on pyVoIP's own RTP stream: same socket, SSRC, sequence and clock as its audio), checks
that every key brings a new prompt with sound in it, optionally checks on AMI that the call is
waiting in the expected queue, hangs up and unregisters. Everything it waits for is bounded.

What the probe takes from pyVoIP 1.6.8 and what it replaces (see docs/asterisk/probe.md):

- taken: the REGISTER exchange with digest auth, the INVITE and its SDP offer (PCMU + telephone-event),
  SIP parsing, the ACK and the BYE, the RTP receive/transmit threads and G.711 coding;
- replaced, because 1.6.8 has no way to do it or does it unboundedly:
  - ``register()``: one bounded attempt whose error is kept (1.6.8 retries on timer threads,
    swallows the error and leaves ``start()`` returning as if nothing happened);
  - ``invite()``: 1.6.8 holds the receive lock and reads the socket with no timeout until a
    100/180/401 arrives (a silent PBX blocks it for ever) and ignores final failures (486, 404 …
    leave the call "dialing" for ever). The probe sends the INVITE and lets the receive loop see
    every answer: provisional ones are timed, 401/407 are answered once with credentials, a final
    failure is ACKed and ends the probe, and a missing answer is CANCELled;
  - RFC 2833 *sending*: 1.6.8 can only receive DTMF; the probe's RTP client interleaves
    telephone-event packets into the transmit loop;
  - received audio is measured per RTP packet (16-bit decode of the G.711 payload, arrival time)
    instead of through ``read_audio``, whose 8-bit output and silence skipping blur both level
    and timing.

The rooms: `config` (what a probe is asked: `ProbeConfig`, its errors), `results` (what it reports:
`ProbeResult`), `rtp` (G.711 levels, RFC 2833 sending), `sip` (the pyVoIP phone, SIP client and call
the probe uses), `run` (`Probe`, `run_probe`: the call from REGISTER to BYE) and `cli` (`hotline probe`).
"""
