"""Verifying a received message: SPF, every DKIM signature, DMARC, the ARC chain (RFC 8617) and BIMI.

Modules: :mod:`.parse` (RFC 5322), :mod:`.keys` (DKIM keys through the project's DNS engine),
:mod:`.dkimsig`, :mod:`.spfid`, :mod:`.dmarcmsg`, :mod:`.arc`, :mod:`.bimimsg`, :mod:`.authres_io`
(RFC 8601 in and out), :mod:`.verify` (the pipeline), :mod:`.text` (the readable verdict), :mod:`.cli`.
"""
