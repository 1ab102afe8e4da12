"""Go filepath.Match and filepath.Clean behaviour on Unix."""

from __future__ import annotations

import pytest

from cachelab.keys.gopath import BadPatternError, clean, has_glob, match

BAD = "bad"

MATCH_CASES = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a\u263ab", True),
    ("a[^a]b", "a\u263ab", True),
    ("a???b", "a\u263ab", False),
    ("[a-\u03b6]*", "\u03b1", True),
    ("*[a-\u03b6]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "a", False),
    ("[]a]", "]", BAD),
    ("[-]", "-", BAD),
    ("[x-]", "x", BAD),
    ("[-x]", "x", BAD),
    ("\\", "a", BAD),
    ("[a-b-c]", "a", BAD),
    ("[", "a", BAD),
    ("[^", "a", BAD),
    ("[^bc", "a", BAD),
    ("a[", "a", BAD),
    ("a[", "ab", BAD),
    ("a[", "x", BAD),
    ("a/b[", "x", BAD),
    ("*x", "xxx", True),
    ("src/*.txt", "src/a.txt", True),
    ("src/*.txt", "src/sub/a.txt", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), MATCH_CASES)
def test_match(pattern, name, expected):
    if expected == BAD:
        with pytest.raises(BadPatternError):
            match(pattern, name)
    else:
        assert match(pattern, name) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "."),
        ("abc", "abc"),
        ("abc/", "abc"),
        ("a//b", "a/b"),
        ("//abc", "/abc"),
        ("///abc", "/abc"),
        ("./a", "a"),
        ("a/./b", "a/b"),
        ("a/../b", "b"),
        ("../a", "../a"),
        ("../../a/..", "../.."),
        ("/..", "/"),
        ("/../a", "/a"),
        ("a/..", "."),
        ("/", "/"),
        ("abc/def/../../..", ".."),
    ],
)
def test_clean(path, expected):
    assert clean(path) == expected


def test_has_glob():
    assert has_glob("a*")
    assert has_glob("a?")
    assert has_glob("[ab]")
    assert not has_glob("plain/path.txt")
