"""Generated DNS worlds for end-to-end tests (served by NSD on 127.0.0.1, scanned through the real CLI).

* :mod:`worlds.findings_world`: one domain per finding code that DNS can trigger, with the parent zones,
  shared provider records, faults (SERVFAIL, drops, first-try drops) and the expected outcome of each case.
* :mod:`worlds.relays`: an event loop in a thread for the asyncio servers, and an AD-setting relay that stands
  in for a validating resolver.
"""
