"""The aiobs flush server: ingest with API keys and usage quotas, and a query API.

Run it with ``aiobs server`` (``pip install 'aiobs[server]'``; add ``'aiobs[postgres]'`` for
PostgreSQL). It speaks the protocol of the SDK's flush client (:mod:`aiobs.exporters.remote`) and of
aiobs 0.2, stores what it receives in SQLite or PostgreSQL (:mod:`aiobs.server.storage`), and
serves a JSON query API for sessions, events and aggregates (:mod:`aiobs.server.app`).
"""
