#!/usr/bin/env python3
"""Lists the largest functions and files of the project's C++ sources.

Usage: tools/code_size.py [--functions N] [--files N] [path ...]

Prints the N largest functions (default 15) by lines, from the first line of
the signature to the closing brace, with file:line and name, then the
largest files (default 10) by lines, with their lines of code (neither
blank, nor only comments, nor preprocessor lines), then totals. The files are the *.h and
*.cc that git knows under the given paths (default: the whole checkout;
ignored ones such as bazel-* are left out), or, outside a git checkout, those
found under the paths.

Functions are found by matching braces in the text with comments, string and
character literals (raw strings included) and preprocessor lines blanked: a
brace at namespace or class scope that follows a parameter list (and its
qualifiers or a constructor's initialisers) opens a function, and everything
up to its matching brace belongs to it, lambdas and local classes included.
GoogleTest's TEST(Suite, Name) and similar macros count as functions named
by the macro and its arguments. Code that only compiles with a given #if
branch may confuse the count.
"""

import argparse
import os
import re
import subprocess
import sys

SUFFIXES = (".h", ".cc")
IDENT = re.compile(r"[A-Za-z0-9_]")


def mask(text):
    """Returns `text` with comments, literals' contents and preprocessor lines
    turned into spaces, newlines kept, so offsets and lines stay the same."""
    out = list(text)
    n = len(text)
    i = 0
    line_start = True  # only whitespace since the last newline

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if line_start and c == "#":
            # A directive, with its continuation lines.
            j = i
            while j < n:
                if text[j] == "\n" and text[j - 1] != "\\":
                    break
                if text.startswith("/*", j):
                    end = text.find("*/", j + 2)
                    j = n if end < 0 else end + 2
                    continue
                j += 1
            blank(i, j)
            i = j
            continue
        line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c == '"':
            # Raw string: R"delim( ... )delim", with an optional u8/u/U/L
            # prefix before the R.
            m = re.search(r"(?<![A-Za-z0-9_])(?:u8|[uUL])?R$",
                          text[max(0, i - 8):i])
            if m:
                open_paren = text.find("(", i + 1)
                delim = text[i + 1:open_paren]
                end = text.find(")" + delim + '"', open_paren + 1)
                j = n if end < 0 else end + len(delim) + 1
                blank(i + 1, j)
                i = j + 1
                continue
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, min(j, n))
            i = j + 1
        elif c == "'":
            # A digit separator (1'000) is not a character literal.
            if i > 0 and IDENT.match(text[i - 1]) and re.match(
                    r"[0-9A-Fa-f]", text[i + 1:i + 2] or " ") and re.search(
                        r"\b[0-9][0-9A-Fa-fxXbB']*$", text[max(0, i - 40):i]):
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != "'" and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, min(j, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def top_level_groups(s):
    """(start, end) of each top-level parenthesised group of `s`, outside
    template argument lists."""
    groups = []
    depth = 0
    angle = 0
    start = 0
    i = 0
    while i < len(s):
        c = s[i]
        if depth == 0 and s.startswith("operator", i):
            # operator(), operator<, operator<<, ... : skip the symbol.
            m = re.match(r"operator\s*(\(\s*\)|\[\s*\]|[^\s\w(]+)", s[i:])
            if m:
                i += m.end()
                continue
        if c == "(":
            if depth == 0:
                start = i
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and angle == 0:
                groups.append((start, i))
            depth = max(depth, 0)
        elif depth == 0 and c == "<":
            angle += 1
        elif depth == 0 and c == ">" and s[i - 1:i] != "-":
            angle = max(angle - 1, 0)
        i += 1
    return groups


QUALIFIERS = re.compile(
    r"\s*(?:(?:const|volatile|override|final|mutable|&&|&|"
    r"noexcept(?:\s*\(.*?\))?|throw\s*\(\s*\)|\[\[.*?\]\]|"
    r"->\s*[^{};=]+?)\s*)*",
    re.S)
NAME_BEFORE = re.compile(
    r"((?:~?[A-Za-z_]\w*(?:\s*<[^(){};]*>)?\s*::\s*)*"
    r"(?:operator\s*(?:\(\s*\)|\[\s*\]|[^\s\w(]+)|~?[A-Za-z_]\w*))\s*$")
NOT_NAMES = {"decltype", "alignas", "noexcept", "__attribute__", "sizeof",
             "if", "for", "while", "switch", "return", "catch"}


def strip_prefixes(head):
    """Drops access specifiers, `template <...>` and attributes in front."""
    while True:
        before = head
        head = re.sub(r"^\s*(?:public|private|protected)\s*:(?!:)", "", head)
        head = re.sub(r"^\s*\[\[.*?\]\]", "", head, flags=re.S)
        m = re.match(r"\s*template\s*<", head)
        if m:
            depth = 1
            i = m.end()
            while i < len(head) and depth:
                depth += {"<": 1, ">": -1}.get(head[i], 0)
                i += 1
            head = head[i:]
        if head == before:
            return head


def classify(head):
    """What a `{` at namespace or class scope opens, from the text between the
    previous `;`, `{` or `}` and it: ("namespace"|"class"|"other", None),
    ("function", name) or ("init", None) for a brace of a constructor's
    member initialiser."""
    h = strip_prefixes(head)
    if re.match(r"\s*(?:inline\s+)?namespace\b", h) or re.fullmatch(
            r'\s*extern\s*"\s*"\s*', h):
        return "namespace", None
    if re.match(r"\s*(?:typedef\s+)?(?:class|struct|union|enum)\b", h):
        return "class", None
    for start, end in top_level_groups(h):
        before = h[:start]
        m = NAME_BEFORE.search(before)
        if not m or m.group(1).split("::")[-1].strip() in NOT_NAMES:
            continue
        name = re.sub(r"\s+", "", m.group(1))
        prefix = before[:m.start()]
        if re.search(r"(?<![=!<>])=(?!=)", prefix):
            return "other", None  # an initialiser: `T x = T(...) {...}`
        if re.fullmatch(r"[A-Z][A-Z0-9_]+", name):
            # TEST(Suite, Name): the leading arguments that are names.
            args = []
            for arg in h[start + 1:end].split(","):
                if not re.fullmatch(r"\s*\w+\s*", arg):
                    args.append("...")
                    break
                args.append(arg.strip())
            name = "%s(%s)" % (name, ", ".join(args))
        tail = h[end + 1:]
        init = re.match(r"\s*:(?!:)", tail)
        if init:
            # The body follows the last initialiser's ) or }; a brace right
            # after a member's name opens that member's initialiser.
            if IDENT.match(h.rstrip()[-1:] or " ") or h.rstrip().endswith(">"):
                return "init", None
            return "function", name
        if QUALIFIERS.fullmatch(tail):
            return "function", name
        return "other", None
    return "other", None


def functions(path, text):
    """(lines, start_line, name) of each function of `text`."""
    code = mask(text)
    found = []
    stack = []  # kinds of the open braces
    head_start = 0
    in_function = 0  # depth at which the open function started, or 0
    func_start = func_name = None
    for i, c in enumerate(code):
        if c == "{":
            if in_function:
                stack.append("block")
                continue
            kind, name = classify(code[head_start:i])
            stack.append(kind)
            if kind == "function":
                in_function = len(stack)
                head = code[head_start:i]
                offset = head_start + len(head) - len(head.lstrip())
                func_start = code.count("\n", 0, offset) + 1
                func_name = name
            if kind != "init":
                head_start = i + 1
        elif c == "}":
            if not stack:
                continue  # unbalanced (an #if branch): ignore
            kind = stack.pop()
            if in_function and len(stack) < in_function:
                end_line = code.count("\n", 0, i) + 1
                found.append((end_line - func_start + 1, func_start, func_name))
                in_function = 0
            if not in_function and kind != "init":
                head_start = i + 1
        elif c == ";" and not in_function:
            if not stack or stack[-1] != "init":
                head_start = i + 1
    return found


def list_files(paths):
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--"] + paths,
            check=True, capture_output=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root in paths or ["."]:
            if os.path.isfile(root):
                files.append(root)
                continue
            for d, subdirs, names in os.walk(root):
                subdirs[:] = sorted(s for s in subdirs if not s.startswith(
                    ("bazel-", ".")) and s != "node_modules")
                files += [os.path.normpath(os.path.join(d, f)) for f in names]
    return sorted({f for f in files
                   if f.endswith(SUFFIXES) and os.path.isfile(f)
                   and not f.startswith("bazel-")})


def main():
    parser = argparse.ArgumentParser(
        description="The largest functions and files of the C++ sources.")
    parser.add_argument("--functions", type=int, default=15, metavar="N",
                        help="how many functions to list (default 15)")
    parser.add_argument("--files", type=int, default=10, metavar="N",
                        help="how many files to list (default 10)")
    parser.add_argument("paths", nargs="*",
                        help="files or folders (default: the checkout)")
    args = parser.parse_args()

    if not args.paths:
        os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    files = list_files(args.paths)
    if not files:
        print("no C++ files found", file=sys.stderr)
        return 1

    all_functions = []
    sizes = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        code_lines = sum(1 for l in mask(text).split("\n") if l.strip())
        sizes.append((lines, code_lines, f))
        all_functions += [(n, f, line, name)
                          for n, line, name in functions(f, text)]

    all_functions.sort(key=lambda x: (-x[0], x[1], x[2]))
    sizes.sort(key=lambda x: (-x[0], x[2]))
    width = max(len("%s:%d" % (f, line)) for _, f, line, _ in
                all_functions[:args.functions] or [(0, "", 0, "")])
    print("Largest functions (lines, file:line, name):")
    for n, f, line, name in all_functions[:args.functions]:
        print("%6d  %-*s  %s" % (n, width, "%s:%d" % (f, line), name))
    print()
    print("Largest files (lines, lines of code, file):")
    for lines, code_lines, f in sizes[:args.files]:
        print("%6d  %6d  %s" % (lines, code_lines, f))
    print()
    total = sum(s[0] for s in sizes)
    print("%d files, %d lines (%d code); %d functions, %d over 50 lines, "
          "%d over 100 lines" % (
              len(files), total, sum(s[1] for s in sizes), len(all_functions),
              sum(1 for x in all_functions if x[0] > 50),
              sum(1 for x in all_functions if x[0] > 100)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
