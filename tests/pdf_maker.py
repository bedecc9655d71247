"""Write small real PDFs for tests, by hand (no PDF library needed): text pages in Helvetica, document
metadata, and hostile variants (a decompression bomb, a scan without a text layer)."""

from __future__ import annotations

import zlib


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines: list[str]) -> bytes:
    """A page content stream: one text line per entry, 14 points apart, from the top left."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for line in lines:
        ops.append(f"({_escape(line)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def make_pdf(
    pages: list[list[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    created: str | None = None,
    streams: list[bytes] | None = None,
    compress: bool = True,
) -> bytes:
    """A PDF whose page i shows ``pages[i]`` line by line (or the raw content ``streams[i]``), with
    /Title, /Author and /CreationDate ("D:YYYYMMDD...") in its info dictionary when given."""
    contents = streams if streams is not None else [_content(lines) for lines in pages]
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree's number is known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_numbers = []
    tree = add(b"")
    for content in contents:
        data = zlib.compress(content) if compress else content
        flate = b" /Filter /FlateDecode" if compress else b""
        stream = add(b"<< /Length %d%s >>\nstream\n" % (len(data), flate) + data + b"\nendstream")
        page_numbers.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (tree, font, stream)
            )
        )
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % n for n in page_numbers),
        len(page_numbers),
    )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    info_fields = []
    for key, value in (("Title", title), ("Author", author), ("CreationDate", created)):
        if value is not None:
            info_fields.append(b"/%s (%s)" % (key.encode(), _escape(value).encode("latin-1")))
    info = add(b"<< " + b" ".join(info_fields) + b" >>")
    return _serialise(objects, b"/Root %d 0 R /Info %d 0 R" % (catalog, info))


def _serialise(objects: list[bytes], trailer: bytes) -> bytes:
    """Objects numbered from 1, the cross-reference table with their offsets, and the trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def make_scan_pdf() -> bytes:
    """A PDF whose one page draws only a filled rectangle: no text layer, as a scanned page has none."""
    return make_pdf([[]], streams=[b"0.5 g 72 72 468 648 re f"])


def make_bomb_pdf(expanded_bytes: int = 400_000_000) -> bytes:
    """A small PDF whose page content inflates to ``expanded_bytes`` of spaces (a decompression bomb)."""
    compressor = zlib.compressobj(9)
    chunk = b" " * 1_000_000
    data = b"".join(compressor.compress(chunk) for _ in range(expanded_bytes // len(chunk))) + compressor.flush()
    page = (
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 2 0 R >> >> "
        b"/Contents 4 0 R >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
        page,
    ]
    return _serialise(objects, b"/Root 1 0 R")
