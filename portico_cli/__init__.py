"""``portico``: the command-line client of Portico's REST API (``/api/v1/``).

It speaks HTTP only (httpx) and imports nothing of the server, so it installs and runs anywhere.
"""
