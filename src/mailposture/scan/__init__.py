"""Bulk scanning: `mailposture scan` reads a domain list, checks each domain and streams one result per domain.

Modules: :mod:`~mailposture.scan.inputs` (text/CSV/zone/gzip/stdin reading, :func:`normalize_domain`,
duplicate/resume/limit filtering), :mod:`~mailposture.scan.zones` (zone-file delegations),
:mod:`~mailposture.scan.outputs` (jsonl/csv/parquet writers, resume and torn-line repair),
:mod:`~mailposture.scan.runner` (the bounded async pipeline, :class:`ScanSettings`, the summary),
:mod:`~mailposture.scan.workers` (``--workers N`` processes), :mod:`~mailposture.scan.progress` (rich bar),
:mod:`~mailposture.scan.cli` (the command: :func:`register`, :func:`execute`).
"""
