"""The web layer: Flask app factory, REST API, /metrics and the Socket.IO namespace /live.

It reads the sampler's latest sample, the hub's feed and history; it never reads psutil.
"""
