"""The web console: agents' screen pops and case form, the supervisors' wallboard, case pages.

`agent_console.app.create_app(config, db, bus, live)` builds the Flask app and its SocketIO; see
`dispatcher.py` for the Socket.IO events (and the jobs that send them) and `pop.py` for what a screen pop
carries.
"""
