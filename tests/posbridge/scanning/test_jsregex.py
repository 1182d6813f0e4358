"""JavaScript regex translation: each row is what JavaScript answers for that regex and input."""

from __future__ import annotations

import pytest

from posbridge.scanning.jsregex import compile_js_regex, split_js_literal
from posbridge.scanning.result import ScanConfigError

# (regex, input, expected first group or whole match; None = no match);
# test_table_agrees_with_node checks every row against a real JavaScript engine.
TABLE: list[tuple[str, str, str | None]] = [
    # acceptance list
    (r"^LOY-(\d{8})$", "LOY-12345678", "12345678"),  # loyalty number, prefix outside group
    (r"^LOY-(\d{8})$", "LOY-12345678\n", None),  # JS $ is the very end
    (r"^LOY-(\d{8})$", "LOY-1234567", None),
    (r"/^loy-(\d+)$/i", "Loy-42", "42"),  # literal form with flags
    (r"^([^@\s]+@[^@\s]+\.[a-z]{2,})$", "jane.doe@example.com", "jane.doe@example.com"),
    (r"^MEMBER(\d{6})$", "MEMBER004711", "004711"),  # Code128 member id
    (r"^(?<member>\d{6})-[A-Z]$", "123456-K", "123456"),  # named group
    (r"(?<d>\d)\k<d>", "x11", "1"),
    # \d \w \b are ASCII in JS
    (r"^(\d+)$", "١٢٣", None),  # Arabic-Indic digits
    (r"^(\w+)$", "Jürgen", None),
    (r"\b(x)", "éx", "x"),  # é is no word char: boundary before x
    (r"^\B$", "", ""),  # Python's own \B would not match here
    # \s is JS's set: Unicode spaces and FEFF, not the GS separator
    (r"a\sb", "a\u00a0b", "a\u00a0b"),
    (r"a\sb", "a\ufeffb", "a\ufeffb"),
    (r"a\sb", "a\x1db", None),
    (r"a[\s]b", "a\x1db", None),
    (r"a\Sb", "a\x1db", "a\x1db"),
    # dot and line terminators
    (r"a.b", "a\rb", None),
    (r"a.b", "a\u2028b", None),
    (r"/a.b/s", "a\nb", "a\nb"),
    (r"/^b$/m", "a\nb\nc", "b"),
    (r"^b", "a\nb", None),
    # classes
    (r"a[^]b", "a\nb", "a\nb"),
    (r"a[]b", "ab", None),
    (r"([\d-x]+)", "1-x", "1-x"),  # Annex B: class escape in a range is literal '-'
    (r"([^\D]+)", "ab12", "12"),
    (r"([a\D]+)", "12ab", "ab"),
    (r"(\cJ)", "\n", "\n"),
    (r"([\cJ])", "\n", "\n"),
    (r"a\/b", "a/b", "a/b"),
    (r"\u0041", "A", "A"),
    (r"/\u{1F600}/u", "😀", "😀"),
    (r"\uD83D\uDE00", "😀", "😀"),
    (r"^(\x41)$", "A", "A"),
    (r"\a", "a", "a"),  # identity escape, not a bell
    (r"x{,2}", "x{,2}", "x{,2}"),  # not a quantifier in JS
    (r"u{2}", "uu", "uu"),
    # backreferences to groups that did not take part match empty
    (r"^(a)?b\1$", "b", None),  # group 1 did not take part; fullmatch value None below
    (r"\1(a)", "a", "a"),
    # sticky anchors at 0, g changes nothing
    (r"/\d+/y", "a1", None),
    (r"/(\d+)/g", "a1", "1"),
    (r"^(?:LOY|MEM)-(\d+)$", "MEM-7", "7"),  # non-capturing group: the number is group 1
    (r"/b/x", "/b/x", "/b/x"),  # not flags: a source with slashes
    # ES2025 modifiers
    (r"(?i:a)B", "AB", "AB"),
    (r"(?i:a)B", "Ab", None),
]


def _first(regex: str, data: str) -> str | None:
    found = compile_js_regex(regex).pattern.search(data)
    if found is None:
        return None
    return found.group(1) if found.re.groups else found.group(0)


@pytest.mark.parametrize(("regex", "data", "expected"), TABLE)
def test_translation_matches_javascript(regex: str, data: str, expected: str | None) -> None:
    if regex == r"^(a)?b\1$":
        found = compile_js_regex(regex).pattern.search(data)
        assert found is not None and found.group(0) == "b" and found.group(1) is None
        return
    assert _first(regex, data) == expected


def test_case_insensitive_non_ascii() -> None:
    assert _first(r"/^(müller)$/i", "MÜLLER") == "MÜLLER"


def test_split_literal() -> None:
    assert split_js_literal("/a/gi") == ("a", "gi")
    assert split_js_literal("/api/v1") == ("/api/v1", "")
    assert split_js_literal("^a$") == ("^a$", "")


WHERE = "customer_profile_scanner_identifiers[2].regex"


@pytest.mark.parametrize(
    ("regex", "words"),
    [
        (r"(?<=a+)b", "lookbehind"),
        (r"(?<=\d{2,})x", "lookbehind"),
        ("/a/ii", "twice"),
        ("/a/v", "unicodeSets"),
        (r"(?<n>a)|(?<n>b)", "used twice"),
        (r"(?<a$b>x)", "not supported"),
        (r"/\p{L}/u", "property"),
        (r"a**", "nothing to repeat"),
        (r"a++", "nothing to repeat"),  # possessive in Python, an error in JS
        (r"*a", "nothing to repeat"),
        (r"(a", "missing ')'"),
        (r"a)", "unmatched ')'"),
        (r"[z-a]", "out of order"),
        (r"a{3,1}", "out of order"),
        (r"[a", "missing ']'"),
        ("a\\", "end of pattern"),
        (r"/\k<x>/u", "no group named"),
        (r"/\2(a)/u", "no group 2"),
        (r"(?P<x>a)", "invalid group"),
    ],
)
def test_refused_constructs_name_the_entry(regex: str, words: str) -> None:
    with pytest.raises(ScanConfigError) as caught:
        compile_js_regex(regex, where=WHERE)
    assert str(caught.value).startswith(WHERE + ": ")
    assert caught.value.field == WHERE
    assert words in str(caught.value)


def test_unknown_flag_refused() -> None:
    with pytest.raises(ScanConfigError, match="unknown regex flag 'q'"):
        compile_js_regex("a", flags="q", where=WHERE)


def test_fixed_width_lookbehind_is_fine() -> None:
    assert _first(r"(?<=ID:)(\d+)", "ID:77") == "77"


_NODE_SCRIPT = r"""
const rows = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = rows.map(([regex, data]) => {
  const lit = /^\/(.*)\/([dgimsuyv]*)$/s.exec(regex);
  let re;
  try { re = lit ? new RegExp(lit[1], lit[2]) : new RegExp(regex); }
  catch (e) { return {unsupported: String(e)}; }  // e.g. (?i:) before Node 23
  const m = re.exec(data);
  if (!m) return null;
  return m.length > 1 ? (m[1] === undefined ? null : m[1]) : m[0];
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.system
def test_table_agrees_with_node() -> None:
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    rows = [[regex, data] for regex, data, _ in TABLE]
    answer = subprocess.run(
        [node, "-e", _NODE_SCRIPT],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    javascript = json.loads(answer.stdout)
    python = []
    for regex, data, _ in TABLE:
        found = compile_js_regex(regex).pattern.search(data)
        python.append(
            None if found is None else found.group(1) if found.re.groups else found.group(0)
        )
    compared = [
        (row, js, py)
        for row, js, py in zip(TABLE, javascript, python, strict=True)
        if not isinstance(js, dict)
    ]
    assert len(compared) >= len(TABLE) - 2
    assert [(row, js, py) for row, js, py in compared if js != py] == []


_NODE_DIFF_SCRIPT = r"""
const rows = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(rows.map(([p, f, d]) => {
  let re;
  try { re = new RegExp(p, f); } catch (e) { return 'invalid'; }
  const m = re.exec(d);
  return m ? [m.index, m[0], m.length > 1 && m[1] !== undefined ? m[1] : null] : null;
})));
"""


@pytest.mark.system
def test_random_patterns_agree_with_node() -> None:
    """Differential test: random patterns we accept match exactly what node matches."""
    import json
    import random
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    chooser = random.Random(7)
    atoms = [*"ab01()[]{}?*+|^$.\\-,kcxdDwWsSbB/", "(?<n>", "\\k<n>", "(?:", "\\1", "{2}",
             "[^", "(?=", "(?!", "(?<=a)", "é", "\n", "\\u00e9"]
    inputs = ["ab01", "a\nb", "é1-b", "aab", "", "b{2}", "\\", "ba10\u00a0", "AB\u2028b"]
    rows: list[list[str]] = []
    python: list[object] = []
    while len(rows) < 3000:
        source = "".join(chooser.choice(atoms) for _ in range(chooser.randint(1, 8)))
        flags = chooser.choice(["", "i", "m", "s", "u", "y"])
        try:
            pattern = compile_js_regex(source, flags=flags).pattern
        except ScanConfigError:
            continue
        for data in inputs:
            rows.append([source, flags, data])
            found = pattern.search(data)
            python.append(
                None
                if found is None
                else [found.start(), found.group(0), found.group(1) if found.re.groups else None]
            )
    answer = subprocess.run(
        [node, "-e", _NODE_DIFF_SCRIPT],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    javascript = json.loads(answer.stdout)
    differences = [
        (row, js, py) for row, js, py in zip(rows, javascript, python, strict=True) if js != py
    ]
    assert differences[:5] == []
