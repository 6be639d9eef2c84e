"""The workbook writer's own XML escaping (engine/audit/outputs/xlsx.py: ``escape``, ``quoteattr``) gives the text
``xml.sax.saxutils`` gives, which it replaces so that an audit does not import urllib.request and ssl."""

from __future__ import annotations

import subprocess
import sys
from xml.sax import saxutils

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.outputs.xlsx import escape, quoteattr

AWKWARD = st.text(alphabet=st.sampled_from(list("&<>\"'\n\r\t a;#é€\U0001f600\x00")), max_size=12) | st.text(
    max_size=30
)


@settings(max_examples=2000, deadline=None)
@given(AWKWARD)
def test_escape_and_quoteattr_are_saxutils(text: str) -> None:
    assert escape(text) == saxutils.escape(text)
    assert quoteattr(text) == saxutils.quoteattr(text)


def test_the_workbook_writer_imports_no_url_library() -> None:
    code = "import sys, engine.audit.outputs.xlsx; print('urllib.request' in sys.modules, 'xml.sax' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "False"]
