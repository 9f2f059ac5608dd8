"""Bulk scanning: `mailposture scan` reads a domain list, checks each domain and streams one result per domain.

Public API: :class:`~mailposture.scan.inputs.InputSpec`/:class:`~mailposture.scan.inputs.InputReader`/
:func:`~mailposture.scan.inputs.normalize_domain`/:func:`~mailposture.scan.inputs.select` (reading),
:class:`~mailposture.scan.outputs.OutputSpec`/:func:`~mailposture.scan.outputs.open_output` (writing, resume),
:class:`~mailposture.scan.runner.Scanner` (the pipeline), :class:`~mailposture.scan.runner.ScanSettings`,
:func:`~mailposture.scan.cli.execute` and :func:`~mailposture.scan.cli.register` (the command).
"""
