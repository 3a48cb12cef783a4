#!/usr/bin/python3
"""Read character vectors out of an R lazy-load database (Rdata.rdx + Rdata.rdb) without R.

Used to extract Jane Austen's novels from Debian's r-cran-janeaustenr package
(usr/lib/R/site-library/janeaustenr/data/Rdata.{rdx,rdb}). Standard library only.

Format (R Internals, "Serialization formats" and "Lazy loading"):
  * Rdata.rdx is a gzip-compressed R serialisation (as saveRDS writes it) of
    list(variables = <named list of c(offset, length)>, references = ..., compressed = ...).
  * Rdata.rdb holds, at each (offset, length), a 4-byte big-endian uncompressed length
    followed by a zlib stream (compressed = TRUE; types 2/3 add one type byte:
    '2' bzip2, 'X' xz, '0' stored) whose payload is an R XDR serialisation (version 2 or 3).
  * A character vector (STRSXP) holds CHARSXPs: 4-byte flags, 4-byte length (-1 = NA), bytes.

Usage:
  rdb.py list  RDATA_DIR                       names of the objects
  rdb.py text  RDATA_DIR NAME [OUT]            one object, one element per line, LF endings
  rdb.py texts RDATA_DIR OUTDIR NAME...        several objects, OUTDIR/NAME.txt each

Text convention: elements joined with "\\n" and a final "\\n"; NA elements become empty lines.
"""
import bz2
import gzip
import lzma
import os
import struct
import sys
import zlib

# SEXP types used here (R Internals, sec. 1.1)
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP = 0, 1, 2, 3, 4, 5, 6
CHARSXP, LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP = 9, 10, 13, 14, 15, 16
DOTSXP, VECSXP, EXPRSXP, RAWSXP, S4SXP = 17, 19, 20, 24, 25
# pseudo types of the serialisation format
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP = 255, 254, 253, 252
MISSINGARG_SXP, BASENAMESPACE_SXP, NAMESPACESXP, PACKAGESXP = 251, 250, 249, 248
PERSISTSXP, EMPTYENV_SXP, BASEENV_SXP = 247, 242, 241
ATTRLANGSXP, ATTRLISTSXP, ALTREP_SXP = 240, 239, 238


class RFormatError(Exception):
    pass


class Sym:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Sym(%r)" % self.name


class RObj:
    """A decoded R object: type, value (list/str/...) and attributes (dict name -> value)."""

    def __init__(self, rtype, value, attrs=None):
        self.rtype, self.value, self.attrs = rtype, value, attrs or {}

    def names(self):
        n = self.attrs.get("names")
        return n.value if isinstance(n, RObj) else None


class Unserializer:
    def __init__(self, data):
        self.d = data
        self.p = 0
        self.refs = []

    def _take(self, n):
        if self.p + n > len(self.d):
            raise RFormatError("truncated R serialisation")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def length(self):
        n = self.int()
        if n == -1:  # long vector: two more ints
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def header(self):
        fmt = self._take(2)
        if fmt != b"X\n":
            raise RFormatError("not an XDR R serialisation (format %r)" % fmt)
        version = self.int()
        self.int()  # writer R version
        self.int()  # minimal reader R version
        if version == 3:
            nelen = self.int()
            self._take(nelen)  # native encoding name
        elif version != 2:
            raise RFormatError("unsupported serialisation version %d" % version)

    def pairlist_to_dict(self, pl):
        out = {}
        while isinstance(pl, RObj) and pl.rtype == LISTSXP:
            car, tag, cdr = pl.value
            out[tag.name if isinstance(tag, Sym) else str(len(out))] = car
            pl = cdr
        return out

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        has_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))
        if t == NILVALUE_SXP:
            return None
        if t in (EMPTYENV_SXP, BASEENV_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP,
                 MISSINGARG_SXP, BASENAMESPACE_SXP):
            return RObj(t, None)
        if t == REFSXP:
            i = flags >> 8
            if i == 0:
                i = self.int()
            return self.refs[i - 1]
        if t == PERSISTSXP:
            raise RFormatError("persistent references are not supported")
        if t == SYMSXP:
            ch = self.item()  # a CHARSXP
            s = Sym(ch)
            self.refs.append(s)
            return s
        if t in (PACKAGESXP, NAMESPACESXP):
            self.int()  # 0
            n = self.int()
            info = [self.item() for _ in range(n)]
            o = RObj(t, info)
            self.refs.append(o)
            return o
        if t == ENVSXP:
            self.int()  # locked
            o = RObj(t, None)
            self.refs.append(o)
            enclos, frame, hashtab, attrib = self.item(), self.item(), self.item(), self.item()
            o.value = (enclos, frame, hashtab)
            return o
        if t in (LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP, ATTRLANGSXP, ATTRLISTSXP):
            attrs = self.pairlist_to_dict(self.item()) if has_attr else {}
            tag = self.item() if has_tag else None
            car = self.item()
            cdr = self.item()
            return RObj(LISTSXP if t == ATTRLISTSXP else t, (car, tag, cdr), attrs)
        if t == CHARSXP:
            n = self.int()
            if n == -1:
                return None  # NA_character_
            raw = self._take(n)
            levels = flags >> 12
            if levels & 4:  # LATIN1_MASK
                return raw.decode("latin-1")
            return raw.decode("utf-8", errors="surrogateescape")
        if t in (LGLSXP, INTSXP):
            n = self.length()
            vals = list(struct.unpack(">%di" % n, self._take(4 * n)))
            value = vals
        elif t == REALSXP:
            n = self.length()
            value = list(struct.unpack(">%dd" % n, self._take(8 * n)))
        elif t == CPLXSXP:
            n = self.length()
            value = list(struct.unpack(">%dd" % (2 * n), self._take(16 * n)))
        elif t == RAWSXP:
            n = self.length()
            value = self._take(n)
        elif t == STRSXP:
            n = self.length()
            value = [self.item() for _ in range(n)]
        elif t in (VECSXP, EXPRSXP):
            n = self.length()
            value = [self.item() for _ in range(n)]
        elif t == S4SXP:
            value = None
        elif t == ALTREP_SXP:
            info = self.item()
            state = self.item()
            attr = self.item()
            return self.altrep(info, state, attr)
        else:
            raise RFormatError("unsupported SEXP type %d" % t)
        attrs = self.pairlist_to_dict(self.item()) if has_attr else {}
        return RObj(t, value, attrs)

    def altrep(self, info, state, attr):
        # info is a pairlist (class symbol, package symbol, type)
        cls = info.value[0].name if isinstance(info, RObj) else "?"
        attrs = self.pairlist_to_dict(attr) if attr is not None else {}
        if cls == "compact_intseq":
            n, start, step = (int(x) for x in state.value)
            return RObj(INTSXP, [start + i * step for i in range(n)], attrs)
        if cls == "compact_realseq":
            n, start, step = state.value
            return RObj(REALSXP, [start + i * step for i in range(int(n))], attrs)
        if cls in ("wrap_integer", "wrap_real", "wrap_string", "wrap_logical", "wrap_list"):
            inner = state.value[0]
            return RObj(inner.rtype, inner.value, attrs or inner.attrs)
        if cls == "deferred_string":
            inner = state.value[0] if isinstance(state.value, tuple) else state
            return RObj(STRSXP, [str(x) for x in inner.value], attrs)
        raise RFormatError("unsupported ALTREP class %s" % cls)


def unserialize(data):
    u = Unserializer(data)
    u.header()
    return u.item()


def read_index(rdx_path):
    with open(rdx_path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    idx = unserialize(raw)
    names = idx.names()
    if names is None or "variables" not in names:
        raise RFormatError("%s: no 'variables' entry in the index" % rdx_path)
    variables = idx.value[names.index("variables")]
    comp = idx.value[names.index("compressed")].value[0] if "compressed" in names else 1
    out = {}
    for name, pos in zip(variables.names(), variables.value):
        off, ln = (int(x) for x in pos.value)
        out[name] = (off, ln)
    return out, comp


def read_object(rdata_dir, name):
    base = os.path.join(rdata_dir, "Rdata")
    index, comp = read_index(base + ".rdx")
    if name not in index:
        raise KeyError("%s: no object %r (have: %s)" % (base + ".rdb", name, ", ".join(index)))
    off, ln = index[name]
    with open(base + ".rdb", "rb") as f:
        f.seek(off)
        blob = f.read(ln)
    if len(blob) != ln:
        raise RFormatError("%s: truncated at object %r" % (base + ".rdb", name))
    outlen = struct.unpack(">I", blob[:4])[0]
    body = blob[4:]
    if comp in (2, 3):  # a type byte follows the length
        kind, body = body[:1], body[1:]
        if kind == b"Z":
            data = zlib.decompress(body)
        elif kind == b"2":
            data = bz2.decompress(body)
        elif kind == b"X":
            data = lzma.decompress(body)
        elif kind == b"0":
            data = body
        else:
            raise RFormatError("unknown compression type %r" % kind)
    else:
        data = zlib.decompress(body)
    if len(data) != outlen:
        raise RFormatError("object %r: length %d, expected %d" % (name, len(data), outlen))
    return unserialize(data)


def character_vector(rdata_dir, name):
    obj = read_object(rdata_dir, name)
    if not isinstance(obj, RObj) or obj.rtype != STRSXP:
        raise RFormatError("object %r is not a character vector" % name)
    return obj.value


def to_text(lines):
    return "".join(("" if s is None else s) + "\n" for s in lines)


def write_atomic(path, text):
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8", newline="\n", errors="surrogateescape") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) >= 2 and argv[0] == "list":
        index, _ = read_index(os.path.join(argv[1], "Rdata.rdx"))
        for n in index:
            print(n)
        return 0
    if len(argv) in (3, 4) and argv[0] == "text":
        text = to_text(character_vector(argv[1], argv[2]))
        if len(argv) == 4:
            write_atomic(argv[3], text)
        else:
            sys.stdout.write(text)
        return 0
    if len(argv) >= 4 and argv[0] == "texts":
        os.makedirs(argv[2], exist_ok=True)
        for name in argv[3:]:
            write_atomic(os.path.join(argv[2], name + ".txt"), to_text(character_vector(argv[1], name)))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (RFormatError, KeyError, OSError, zlib.error) as e:
        sys.stderr.write("rdb.py: error: %s\n" % e)
        sys.exit(1)
