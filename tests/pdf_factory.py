"""Tiny PDF files for the tests, written by hand: pages of text lines and an optional outline.

Text uses the standard Helvetica font with WinAnsiEncoding, so any character of Windows-1252
(``café``, ``naïve``, ``€``) is shown and extracted back. A page given as ``None`` has no text
layer, like a scanned page: it only paints a grey rectangle. A soft hyphen (U+00AD) in a line
is written as Chrome prints one where CSS may hyphenate a word (see ``_CHROME_SOFT_HYPHEN``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_LEADING = 14


def make_pdf(
    pages: Sequence[Sequence[str] | None],
    outline: Sequence[tuple[str, int]] = (),
    tags: Mapping[tuple[int, int], str] | None = None,
    role_map: Mapping[str, str] | None = None,
    looped_tree: bool = False,
    shown_soft_hyphens: bool = False,
    drawn_last: Mapping[tuple[int, int], int] | None = None,
) -> bytes:
    """A PDF whose page i shows ``pages[i]``, one string per line ("" leaves a blank line).

    ``outline`` lists ``(title, page index)`` bookmarks, all at the top level, in order.
    ``tags`` makes it a tagged PDF, as Word or Chrome write one: every line is marked content
    under a structure element of its own, whose role is ``tags[(page index, line index)]``
    ("H1", "H2"...) or ``P``; ``role_map`` is the structure tree's RoleMap (a document's own
    role names mapped to standard ones); ``looped_tree`` damages that tree as some files are
    damaged, its root element listed among its own kids. ``shown_soft_hyphens`` writes a soft
    hyphen as the hyphen drawn where a word breaks, marked with the ActualText U+00AD (as
    LuaTeX and WeasyPrint do), instead of as Chrome does. ``drawn_last`` maps ``(page index,
    line index)`` to the x at which that line starts, drawn after the page's other lines, in
    the mapping's order (as Chrome draws headings a page's style lifts onto a layer of their
    own), at its own height.
    """
    n = len(pages)
    # Object numbers: 1 catalog, 2 page tree, 3 font, then a page and its content per page,
    # then the outline root and its items, then the structure tree root and its elements.
    page_ids = [4 + 2 * i for i in range(n)]
    outline_root = 4 + 2 * n
    item_ids = [outline_root + 1 + i for i in range(len(outline))]
    tree_root = outline_root + (1 + len(outline) if outline else 0)
    objects: dict[int, bytes] = {}
    catalog = b"<< /Type /Catalog /Pages 2 0 R"
    if outline:
        catalog += b" /Outlines %d 0 R /PageMode /UseOutlines" % outline_root
    if tags is not None:
        catalog += b" /MarkInfo << /Marked true >> /StructTreeRoot %d 0 R" % tree_root
        objects.update(_structure_tree(pages, page_ids, tree_root, tags, role_map or {}, looped_tree))
    objects[1] = catalog + b" >>"
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n)
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    for page_id, lines in zip(page_ids, pages):
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        last = {line: x for (page, line), x in (drawn_last or {}).items() if page == page_ids.index(page_id)}
        content = _content(lines, tagged=tags is not None, shown_soft_hyphens=shown_soft_hyphens, last=last)
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
    if outline:
        objects[outline_root] = b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (
            item_ids[0],
            item_ids[-1],
            len(outline),
        )
        for k, (title, page_index) in enumerate(outline):
            links = b""
            if k > 0:
                links += b" /Prev %d 0 R" % item_ids[k - 1]
            if k + 1 < len(outline):
                links += b" /Next %d 0 R" % item_ids[k + 1]
            objects[item_ids[k]] = b"<< /Title %s /Parent %d 0 R /Dest [%d 0 R /Fit]%s >>" % (
                _text_string(title),
                outline_root,
                page_ids[page_index],
                links,
            )
    return _assemble(objects)


# A soft hyphen as Chrome prints one: a space glyph whose ActualText is U+00AD; and as
# LuaTeX or WeasyPrint print one where a word breaks: the hyphen they draw, marked so.
_CHROME_SOFT_HYPHEN = b" /Span <</ActualText <FEFF00AD> >> BDC ( ) Tj EMC "
_SHOWN_SOFT_HYPHEN = b" /Span <</ActualText <FEFF00AD> >> BDC (-) Tj EMC "


def _content(
    lines: Sequence[str] | None,
    tagged: bool = False,
    shown_soft_hyphens: bool = False,
    last: Mapping[int, int] | None = None,
) -> bytes:
    if lines is None:
        return b"0.5 g 72 72 468 648 re f"
    parts = [b"BT /F1 11 Tf %d TL 72 740 Td" % _LEADING]
    later: dict[int, bytes] = {}
    for number, line in enumerate(lines):
        if number and not last:
            parts.append(b"T*")
        if line:
            pieces = [_literal(piece.encode("cp1252")) + b" Tj" for piece in line.split("\u00ad")]
            shown = (_SHOWN_SOFT_HYPHEN if shown_soft_hyphens else _CHROME_SOFT_HYPHEN).join(pieces)
            # Marked content numbered by its line: the MCID the structure tree points at.
            shown = b"/Span << /MCID %d >> BDC %s EMC" % (number, shown) if tagged else shown
            if last:  # every line placed where it stands, those drawn last after the rest
                x = last.get(number, 72)
                shown = b"1 0 0 1 %d %d Tm %s" % (x, 740 - number * _LEADING, shown)
            if last and number in last:
                later[number] = shown
            else:
                parts.append(shown)
    parts += [later[number] for number in last or () if number in later]
    parts.append(b"ET")
    return b"\n".join(parts)


def _structure_tree(
    pages: Sequence[Sequence[str] | None],
    page_ids: list[int],
    root: int,
    tags: Mapping[tuple[int, int], str],
    role_map: Mapping[str, str],
    looped: bool,
) -> dict[int, bytes]:
    """A structure tree root, a Document element, and one element per non-empty line."""
    document = root + 1
    objects: dict[int, bytes] = {}
    elements: list[int] = []
    next_id = document + 1
    for page_index, lines in enumerate(pages):
        for number, line in enumerate(lines or ()):
            if not line:
                continue
            role = tags.get((page_index, number), "P")
            objects[next_id] = b"<< /Type /StructElem /S /%s /P %d 0 R /Pg %d 0 R /K %d >>" % (
                role.encode(),
                document,
                page_ids[page_index],
                number,
            )
            elements.append(next_id)
            next_id += 1
    kids = b" ".join(b"%d 0 R" % i for i in ([document] if looped else []) + elements)
    objects[document] = b"<< /Type /StructElem /S /Document /P %d 0 R /K [%s] >>" % (root, kids)
    mapped = b" ".join(b"/%s /%s" % (own.encode(), standard.encode()) for own, standard in role_map.items())
    objects[root] = b"<< /Type /StructTreeRoot /K %d 0 R /RoleMap << %s >> >>" % (document, mapped)
    return objects


def _literal(raw: bytes) -> bytes:
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out) + b")"


def _text_string(text: str) -> bytes:
    if text.isascii():
        return _literal(text.encode("ascii"))
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _assemble(objects: dict[int, bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def paginated(
    bodies: Sequence[Sequence[str]],
    *,
    header: str | None = None,
    footer: str | None = None,
    first_number: int = 1,
) -> list[list[str]]:
    """Pages as a printed book lays them out: each body under a running header that ends in
    the page's printed number (``header`` then the number; the number alone when ``header``
    is None), above an optional running ``footer``. Numbers count from ``first_number``."""
    pages = []
    for offset, body in enumerate(bodies):
        number = first_number + offset
        top = f"{header} {number}" if header else str(number)
        pages.append([top, *body, *([footer] if footer else [])])
    return pages
