"""The headings of a tagged PDF, from its structure tree, for the PDF reader.

Word, LibreOffice and Chrome ("Save as PDF", print to PDF) tag what they write: a structure
tree of headings (``H1``-``H6``), paragraphs and lists, whose leaves are marked-content ids
(MCIDs) on the pages. A PDF without bookmarks often has these tags, so they find its headings
where the outline cannot: the ids of each heading are read from the tree, and the text shown
under those ids is taken while the page's text is extracted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from ...errors import one_line

log = logging.getLogger(__name__)

# The standard heading roles (ISO 32000-1, 14.8.4.3.2); a document's own role names reach
# them through the tree's RoleMap.
_HEADING_ROLES = frozenset({"/H", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6"})
# A tree larger than this (a long report tags every span) is read this far: the headings of
# the pages before that point are found, the rest of the document is read without them.
_MOST_NODES = 200_000
_ROLE_MAP_DEPTH = 8


def tagged_headings(reader, source: str) -> dict[int, list[list[int]]]:
    """For each page index, the MCIDs of each heading that starts on it (those on that page), in order.

    Empty for an untagged PDF; a damaged tree is logged and ignored (the pages are still read).
    """
    try:
        return _headings(reader, source)
    except MemoryError:
        raise
    except Exception as error:  # pypdf raises many kinds on a damaged tree
        log.info("%s: structure tree ignored (%s).", source, one_line(error, named=True))
        return {}


def _headings(reader, source: str) -> dict[int, list[list[int]]]:
    tree = reader.trailer["/Root"].get("/StructTreeRoot")
    if tree is None:
        return {}
    tree = tree.get_object()
    role_map = tree.get("/RoleMap")
    walk = _Walk(
        {page.indirect_reference.idnum: index for index, page in enumerate(reader.pages) if page.indirect_reference},
        role_map.get_object() if role_map is not None else {},
    )
    found: dict[int, list[list[int]]] = defaultdict(list)
    for node, page in walk.elements(tree.get("/K"), None):
        if _role(node.get("/S"), walk.role_map) in _HEADING_ROLES:
            marked = list(walk.mcids(node.get("/K"), page))
            if marked:  # the page it starts on, and its text there
                found[marked[0][0]].append([mcid for on, mcid in marked if on == marked[0][0]])
        else:
            walk.descend(node.get("/K"), page)
    if walk.seen > _MOST_NODES:
        log.info("%s: structure tree read for its first %d elements only.", source, _MOST_NODES)
    return dict(found)


class _Walk:
    """A walk through a structure tree in document order, at most ``_MOST_NODES`` nodes long."""

    def __init__(self, page_of: dict[int, int], role_map) -> None:
        self.page_of = page_of
        self.role_map = role_map
        self.seen = 0
        self.visited: set[int] = set()  # object numbers met: a damaged tree may loop
        self.pending: list[tuple[object, int | None]] = []

    def elements(self, kids, page: int | None):
        """The structure elements below ``kids`` that :meth:`descend` is asked to open, with their pages."""
        self.descend(kids, page)
        while self.pending:
            node, page = self.pending.pop()
            node = self._resolved(node)
            if hasattr(node, "get") and node.get("/Type") not in ("/MCR", "/OBJR"):
                yield node, self._page(node, page)

    def descend(self, kids, page: int | None) -> None:
        kids = self._resolved(kids)
        items = kids if isinstance(kids, list) else [kids]
        self.pending.extend((kid, page) for kid in reversed(items) if kid is not None)

    def mcids(self, kids, page: int | None):
        """``(page index, MCID)`` of the marked content below ``kids``, in order."""
        stack = [(kids, page)]
        while stack:
            node, page = stack.pop()
            node = self._resolved(node)
            if isinstance(node, int):  # an MCID on the page of the element that holds it
                if page is not None:
                    yield page, node
            elif isinstance(node, list):
                stack.extend((kid, page) for kid in reversed(node))
            elif hasattr(node, "get") and node.get("/Type") != "/OBJR":
                page = self._page(node, page)
                if node.get("/Type") == "/MCR":
                    if page is not None and isinstance(node.get("/MCID"), int):
                        yield page, node["/MCID"]
                elif node.get("/K") is not None:
                    stack.append((node.get("/K"), page))

    def _resolved(self, node):
        self.seen += 1
        if self.seen > _MOST_NODES:
            self.pending.clear()
            return None
        if hasattr(node, "idnum"):  # an indirect reference: each object is read once
            if node.idnum in self.visited:
                return None
            self.visited.add(node.idnum)
        return node.get_object() if hasattr(node, "get_object") else node

    def _page(self, node, page: int | None) -> int | None:
        """The page an element's /Pg names, else the one it inherits."""
        reference = node.raw_get("/Pg") if "/Pg" in node else None
        return self.page_of.get(reference.idnum, page) if hasattr(reference, "idnum") else page


def _role(name, role_map) -> str | None:
    """A structure element's standard role, following the document's RoleMap."""
    for _ in range(_ROLE_MAP_DEPTH):
        if name is None or str(name) in _HEADING_ROLES or str(name) not in role_map:
            break
        name = role_map[str(name)]
    return None if name is None else str(name)


# Operators that show text.
_SHOWING = frozenset({b"Tj", b"TJ", b"'", b'"'})


def heading_texts(page, headings: list[list[int]]) -> tuple[str, list[str]]:
    """The page's text as pypdf extracts it, and the text shown under each heading's MCIDs.

    pypdf hands text on in runs, when the text position moves, which may be after the
    marked content that showed it has closed: each run is given to the heading whose content
    showed all of it, and a run shown partly by a heading and partly by other content (which
    no heading line can be told from) to none.
    """
    from pypdf.generic import DictionaryObject

    heading_of = {mcid: number for number, heading in enumerate(headings) for mcid in heading}
    open_ids: list[int | None] = []
    shown_by: set[int | None] = set()  # the heading (None: none) of what the current run shows
    parts: list[list[str]] = [[] for _ in headings]

    def after(operator: bytes, operands, *_) -> None:
        if operator == b"BDC":
            properties = operands[1] if len(operands) > 1 else None
            mcid = properties.get("/MCID") if isinstance(properties, DictionaryObject) else None
            open_ids.append(mcid if isinstance(mcid, int) else None)
        elif operator == b"BMC":
            open_ids.append(None)
        elif operator == b"EMC" and open_ids:
            open_ids.pop()
        elif operator in _SHOWING:
            mcid = next((mcid for mcid in reversed(open_ids) if mcid is not None), None)
            shown_by.add(heading_of.get(mcid))

    runs: list[tuple[str, float, float, int | None]] = []  # text, x, y, its heading
    upright = True

    def run(text: str, cm, tm, *_) -> None:
        nonlocal upright
        # Runs are joined as they come: headings are matched without their spaces.
        number = next(iter(shown_by)) if len(shown_by) == 1 else None
        if text and number is not None:
            parts[number].append(text)
        if text:
            shown_by.clear()
        # Where the run starts on the page (text matrix times the current matrix), and whether
        # it is set upright: on a rotated or mirrored page "below" is another direction.
        x, y = tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        a, b = tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]
        c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
        if text.strip() and not (a > 0 and d > 0 and b == 0 and c == 0):
            upright = False
        runs.append((text, x, y, number))

    page_text = page.extract_text(visitor_operand_after=after, visitor_text=run)
    if upright and "".join(text for text, *_ in runs) == page_text:
        page_text = _headings_in_place(runs)
    return page_text, ["".join(part) for part in parts]


@dataclass
class _Line:
    text: str
    x: float | None = None
    y: float | None = None
    headings: set[int | None] = field(default_factory=set)


def _headings_in_place(runs: list[tuple[str, float, float, int | None]]) -> str:
    """The page's text with each heading line that was drawn after the text below it moved up
    to where it stands: before the lines drawn just before it that stand below it in its column.

    Chrome ("Save as PDF") draws a page's headings after its other text when the page's
    style lifts them onto a layer of their own (Node.js's documentation): in the order
    drawn, every heading would come at the page's end, over nothing. A heading whose line
    drawn just before it in its column stands above it is in its place, and stays, also when
    a footer or a page number below it was drawn first.
    """
    lines = [_Line("")]
    for text, x, y, number in runs:
        for n, piece in enumerate(text.split("\n")):
            if n:
                lines.append(_Line(""))
            line = lines[-1]
            line.text += piece
            if piece.strip():
                line.headings.add(number)
                if line.y is None:
                    line.x, line.y = x, y
    for index in range(len(lines)):
        line = lines[index]
        if line.y is None or len(line.headings) != 1 or None in line.headings:
            continue
        # Back over the lines drawn before it in its column while they stand below it (PDF's
        # y grows upwards); a heading moved up before is one of them.
        target = None
        for n in range(index - 1, -1, -1):
            other = lines[n]
            if other.y is None or abs(other.x - line.x) > _SAME_COLUMN:
                continue
            if other.y >= line.y - _SAME_LINE:
                break
            target = n
        if target is not None:
            lines.insert(target, lines.pop(index))
    return "\n".join(line.text for line in lines)


# Points: lines closer than this in height are one line; a line starting this far from
# another's start is in another column.
_SAME_LINE = 2.0
_SAME_COLUMN = 36.0
