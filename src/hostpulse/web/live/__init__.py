"""The live layer: every viewer pushed each tick over Socket.IO's ``/live`` namespace.

- ``namespace.py`` — events in: what a viewer sends, checked and logged
- ``live.py`` — what a viewer can ask for, carried out (:class:`~.live.Live`)
- ``viewers.py`` — who is connected, watching which host, panel or the overview
- ``broadcast.py`` — one host's frames: samples, processes, facts, hellos
- ``hello.py`` — the one hello builder
- ``overview.py`` and ``pacing.py`` — the overview of every host: built, cached and paced
- ``sender.py`` — an event encoded once, the same bytes to every viewer's outbox
"""
