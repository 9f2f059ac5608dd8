"""Web pages (FastAPI, server-rendered, Japanese and English).

- ``/abroad``: the mailbox owner's page (allow sending from abroad for 1–30 days, or switch it off);
- ``/admin``: the administrator's page (users, allow-list, refusal statistics, geo data).

``mailposture.web.app.create_app(cfg, store)`` builds the app, ``mailposture.web.app.serve(cfg, host, port)``
runs it; ``mailposture.web.auth.hash_password`` / ``set_user`` make users-file entries.
"""
