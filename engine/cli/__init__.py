"""The ``carerules`` command line."""

import sys

from engine.audit.memory import one_heap

if sys.argv[1:2] == ["audit"] or sys.argv[1:][:2] == ["bench", "audit"]:
    one_heap()  # before pyarrow is imported: its threads would otherwise make heaps of their own (audit memory)
