"""Profiles and checks shared by the SVG export's unit and browser tests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from workbench.model import SAMPLES, Frame, Profile, Runtime

SVG_NS = "{http://www.w3.org/2000/svg}"

# Names that would inject markup, script or template expressions if ever spliced raw.
HOSTILE_NAMES = [
    "</script><script>window.__pwned=1;alert(1)</script>",
    '"><img src=x onerror="window.__pwned=2;alert(2)">',
    "]]><script>window.__pwned=3;alert(3)</script><![CDATA[",
    "{{7*7}}",
    "${alert(4)}",
    "<svg onload=alert(5)>",
    "a&amp;b &lt;c&gt; &#x3c;script&#x3e;",
    "nul\x00byte\x01\x08\x0b\x0c\x1f\x7f",
    "lone \ud800 surrogate \ufffe\uffff",
    "bidi \u202eevil\u202c",
    "javascript:alert(6)",
    "<foreignObject><body xmlns='http://www.w3.org/1999/xhtml' onload='alert(7)'/></foreignObject>",
    "x' onmouseover='alert(8)",
    "</text></g><g onclick=alert(9)><text>",
    "\u2028line\u2029sep",
    # well-formed XML, so an innerHTML/insertAdjacentHTML slip in the script would really run it
    '<img xmlns="http://www.w3.org/1999/xhtml" src="x:" onerror="window.__pwned=10;alert(10)"/>',
]

# Every element and attribute the writer may produce; anything else came from a name.
ALLOWED_TAGS = {"svg", "defs", "linearGradient", "stop", "style", "rect", "text", "g", "title", "script"}
ALLOWED_ATTRS = {
    "version",
    "width",
    "height",
    "viewBox",
    "id",
    "x",
    "y",
    "x1",
    "x2",
    "y1",
    "y2",
    "stop-color",
    "offset",
    "type",
    "fill",
    "rx",
    "ry",
    "class",
}


def py(function: str, file: str = "app.py", line: int = 1) -> Frame:
    return Frame(function, file, line, runtime=Runtime.PYTHON)


def sample_profile() -> Profile:
    """main -> parse -> {expr 5, term 3}; main -> eval 2; main -> compress 4; idle 2 (16 samples)."""
    p = Profile([SAMPLES], name="sample")
    p.add_stack([py("main"), py("parse"), py("expr")], [5])
    p.add_stack([py("main"), py("parse"), py("term")], [3])
    p.add_stack([py("main"), py("eval")], [2])
    p.add_stack([py("main"), Frame("compress", "zlib.c", 10, runtime=Runtime.NATIVE)], [4])
    p.add_stack([py("idle")], [2])
    return p


def hostile_profile() -> Profile:
    """Every hostile name as a function and as a file, wide enough to be drawn and labelled."""
    p = Profile([SAMPLES], name="hostile </title><script>alert(0)</script>")
    for i, name in enumerate(HOSTILE_NAMES):
        p.add_stack([py("main"), py(name, file=name, line=i + 1)], [10])
        p.add_stack([Frame(name), py("leaf")], [10])
    return p


def parse_svg(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def assert_no_markup_from_names(root: ET.Element) -> None:
    """Only the writer's own elements and attributes exist; no event handler anywhere."""
    for el in root.iter():
        tag = el.tag.removeprefix(SVG_NS)
        assert tag in ALLOWED_TAGS, f"unexpected element {el.tag!r}"
        for key, value in el.attrib.items():
            assert key in ALLOWED_ATTRS, f"unexpected attribute {key!r} on {tag}"
            assert not key.lower().startswith("on")
            assert "script" not in value.lower() or key == "type"
    scripts = root.findall(f"{SVG_NS}script")
    assert [s.get("type") for s in scripts] == ["application/json", "text/ecmascript"]


def embedded_data(root: ET.Element) -> dict[str, object]:
    blob = root.find(f"{SVG_NS}script[@id='wb-data']")
    assert blob is not None and blob.text is not None
    data = json.loads(blob.text)
    assert isinstance(data, dict)
    return data
