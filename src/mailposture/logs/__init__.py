"""Mail-log reading shared by ``guard analyze`` and ``guard watch``: Postfix and Dovecot lines as on disk.

``files`` finds and orders rotated/gzipped files and infers the year of classic syslog timestamps,
``parse`` turns one line into an event (pure, no I/O), ``reader`` streams events from files with counters,
``follow`` tails live files across rotation and remembers where it stopped.
"""

from mailposture.logs.parse import Event, LineParser
from mailposture.logs.reader import LogReader, LogStats

__all__ = ["Event", "LineParser", "LogReader", "LogStats"]
