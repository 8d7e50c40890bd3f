"""Word files (``.docx``), read with python-docx from the docs extra, parsed whole in memory.

Body paragraphs and tables in order, a table row as one paragraph with its cells joined by
`` | `` (a table inside a cell read into that cell); paragraphs in a ``Title`` or
``Heading N`` style (or a style based on one, or with an outline level) are headings. The
text is what Word shows with tracked changes accepted: insertions read, deletions not, and
text inside content controls, fields, smart tags and links read as the words around it,
equations in Word's linear form ("R = N/H"), automatic numbering as Word shows it ("1.1",
"(a)"; bullets left out), a table's empty cells in their place, symbol-font characters and
form check boxes as Unicode ("\u2611", "\u2265"). Headers, footers, footnotes, comments, text
boxes, the table of contents and a form's placeholder text ("Click or tap here to enter
text.") are left out. A damaged or
password-protected file is skipped with a warning. Old binary Word files (``.doc``) are not
read: no small library reads them well.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ...errors import UnreadableDocumentError, one_line
from ..chunking import Block
from .base import Document, Reader, WarnOnce, list_number, table_row

OLD_WORD_SUFFIX = ".doc"


def old_word_message(source: str, skipped: bool = False) -> str:
    return (
        f"{source}: old Word format (.doc) is not read{'; skipped' if skipped else ''}; "
        "save it as .docx (in Word, or: soffice --headless --convert-to docx FILE)."
    )


def _documents(path: Path, source: str, column: str, notes: WarnOnce) -> Iterator[Document]:
    yield Document(source, "blocks", path, _blocks=functools.partial(read_docx, path, source), _notes=notes)


# lxml comes with python-docx.
READER = Reader(suffixes=(".docx",), documents=_documents, extra="docs", libraries=("docx",))


_HEADING_STYLE = re.compile(r"(?:Title|Heading \d)")
# A style's base chain is short in any real document; the bound only guards a looping one.
_STYLE_DEPTH = 16


def read_docx(path: Path, source: str) -> Iterator[Block]:
    """Body paragraphs (headings flagged) and table rows of a .docx file, in order."""
    import docx
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
        body = document.element.body
    except MemoryError:
        raise
    except Exception as error:  # a damaged zip, missing parts, bad XML
        raise UnreadableDocumentError(
            f"{source}: not a readable .docx ({one_line(error, named=True)}); skipped. "
            "Password-protected files must be saved without the password."
        ) from None
    contents_styles = _contents_styles(document)
    numbering = _Numbering(document)
    for element in _block_elements(body, contents_styles):
        if element.tag == _W + "tbl":
            yield from _table_rows(element, contents_styles, numbering)
            continue
        text = _numbered_text(element, numbering)
        if text.strip():
            yield Block(text, heading=_is_heading(Paragraph(element, document._body)))


def _numbered_text(paragraph, numbering: _Numbering) -> str:
    """A paragraph's text after the number Word shows before it, if any (the count goes on
    for an empty numbered paragraph too, as in Word)."""
    label = numbering.label(paragraph)
    text = _paragraph_text(paragraph)
    return f"{label} {text}" if label and text.strip() else text


class _Numbering:
    """The labels Word's automatic numbering shows before paragraphs ("1.", "1.1", "(a)"):
    not in the text, yet a contract's "clause 1.1" points at them. Bullets are left out.

    Counted in document order, table cells included, once per list definition
    (``w:abstractNum``), which the lists (``w:num``) sharing it continue, unless a list
    overrides a level (a restart, or a level of its own); a level restarts below a higher
    one, or as its ``w:lvlRestart`` says. The level's format, text ("%1.%2") and start come from the numbering part; a
    "legal" level (``w:isLgl``) shows its parents' numbers as decimals. A paragraph is
    numbered directly or through its style (and the styles that style is based on).
    """

    def __init__(self, document) -> None:
        self.lists: dict[str, tuple[str, dict[int, _Level]]] = {}  # numId -> (counter key, levels)
        self.counters: dict[str, dict[int, int]] = {}
        self.style_numbers: dict[str, tuple[str | None, int | None]] = {}  # style id -> (numId, ilvl)
        self.style_bases: dict[str, str] = {}
        try:
            numbering = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):  # no numbering part
            return
        try:
            styles = document.styles.element
        except (KeyError, ValueError, AttributeError):
            styles = None
        for style in styles.iterfind(_W + "style") if styles is not None else ():
            if (style_id := style.get(_W + "styleId")) is None:
                continue
            number = style.find(f"{_W}pPr/{_W}numPr")
            if number is not None:
                level = number.find(_W + "ilvl")
                self.style_numbers[style_id] = (
                    _val(number, "numId", None),
                    _int(level.get(_W + "val"), 0) if level is not None else None,
                )
            if (base := _val(style, "basedOn", None)) is not None:
                self.style_bases[style_id] = base
        definitions = {node.get(_W + "abstractNumId"): node for node in numbering.iterfind(_W + "abstractNum")}
        nums = {num.get(_W + "numId"): num for num in numbering.iterfind(_W + "num")}
        for num_id, num in nums.items():
            definition_id = _val(num, "abstractNumId", "")
            levels = self._levels(definitions, nums, definition_id)
            own = False
            for override in num.iterfind(_W + "lvlOverride"):
                level = _int(override.get(_W + "ilvl"), 0)
                replaced = override.find(_W + "lvl")
                if replaced is not None:
                    levels[level] = _Level.of(replaced)
                start = override.find(_W + "startOverride")
                if start is not None and level in levels:
                    levels[level] = levels[level]._replace(start=_int(start.get(_W + "val"), 1))
                own = own or replaced is not None or start is not None
            self.lists[num_id] = (f"num {num_id}" if own else f"definition {definition_id}", levels)

    @staticmethod
    def _levels(definitions: dict, nums: dict, definition_id: str) -> dict[int, _Level]:
        """A definition's levels, following a style link (``w:numStyleLink``) once."""
        definition = definitions.get(definition_id)
        if definition is None:
            return {}
        levels = {_int(level.get(_W + "ilvl"), 0): _Level.of(level) for level in definition.iterfind(_W + "lvl")}
        linked = _val(definition, "numStyleLink", None)
        if not levels and linked is not None:
            for other in definitions.values():
                if _val(other, "styleLink", None) == linked and other is not definition:
                    return {_int(lv.get(_W + "ilvl"), 0): _Level.of(lv) for lv in other.iterfind(_W + "lvl")}
        return levels

    def _style_number(self, style: str | None) -> tuple[str | None, int | None]:
        """The list and level a style numbers its paragraphs with, through its base styles."""
        num_id: str | None = None
        level: int | None = None
        for _ in range(_STYLE_DEPTH):
            if style is None:
                break
            own_num, own_level = self.style_numbers.get(style, (None, None))
            num_id = num_id if num_id is not None else own_num
            level = level if level is not None else own_level
            if num_id is not None and level is not None:
                break
            style = self.style_bases.get(style)
        return num_id, level

    def label(self, paragraph) -> str:
        num_id, level = self._style_number(_style_id(paragraph))
        number = paragraph.find(f"{_W}pPr/{_W}numPr")
        if number is not None:
            num_id = _val(number, "numId", num_id)
            level = _int(_val(number, "ilvl", None), level if level is not None else 0)
        found = self.lists.get(num_id) if num_id is not None else None
        level = level if level is not None else 0
        if found is None or level not in found[1]:  # numId 0 (numbering removed), or unknown
            return ""
        key, levels = found
        counters = self.counters.setdefault(key, {})
        counters[level] = counters.get(level, levels[level].start - 1) + 1
        for deeper in [known for known in counters if known > level]:
            if deeper not in levels or levels[deeper].restarts_after(level, deeper):
                del counters[deeper]  # a new item restarts the levels below it
        this = levels[level]
        if this.format in ("bullet", "none") or not this.text:
            return ""

        def shown(match: re.Match) -> str:
            shown_level = int(match.group(1)) - 1
            if shown_level not in levels:
                return ""
            fmt = "decimal" if this.legal and shown_level != level else levels[shown_level].format
            return list_number(counters.get(shown_level, levels[shown_level].start), fmt)

        return _LEVEL_PLACEHOLDER.sub(shown, this.text).strip()


class _Level(NamedTuple):
    """One level of a list definition."""

    format: str
    text: str
    start: int
    legal: bool
    restart: int | None = None  # w:lvlRestart: after which level (1-based) it restarts; 0: never

    @classmethod
    def of(cls, level) -> _Level:
        legal = level.find(_W + "isLgl")
        restart = _val(level, "lvlRestart", None)
        return cls(
            _val(level, "numFmt", "decimal"),
            _val(level, "lvlText", ""),
            _int(_val(level, "start", "1"), 1),
            legal is not None and legal.get(_W + "val", "1") not in ("0", "false", "off"),
            _int(restart, 1) if restart is not None else None,
        )

    def restarts_after(self, used: int, own: int) -> bool:
        """Whether this level (``own``, 0-based) starts again after an item of level ``used``:
        after any higher level unless ``w:lvlRestart`` names one (it restarts only after that
        level or a higher one) or says 0 (it counts on through the whole list, as a contract's
        clauses numbered on across its articles do). A named level not above it is ignored."""
        if self.restart is None or self.restart - 1 >= own:
            return True
        return self.restart != 0 and used <= self.restart - 1


_LEVEL_PLACEHOLDER = re.compile(r"%([1-9])")


def _val(element, name: str, default):
    child = element.find(_W + name)
    value = child.get(_W + "val") if child is not None else None
    return value if value is not None else default


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
# Word's table of contents: its paragraph styles are "toc 1"-"toc 9" and "TOC Heading" by
# name in every language (the names of built-in styles are not translated; their ids are).
_CONTENTS_STYLE = re.compile(r"toc \d|toc heading", re.IGNORECASE)
# Equations (Office Math) are read in the linear form Word shows when asked: "N/H", "x^2".
_OPERATORS = re.compile(r"[-+\u2212=/<>\u00b1\u00d7\u00f7\s]")
# Wrappers whose children are read as if they stood in their place: content controls,
# custom XML, and a tracked insertion or move of whole paragraphs.
_TRANSPARENT = {_W + name for name in ("sdt", "sdtContent", "customXml", "ins", "moveTo")}
# Never read: tracked deletions, what a move left behind, text boxes, a content control's
# properties (its placeholder), the fallback copy of content that is also given as a newer
# "choice" (which would read it twice), and a ruby's reading above its base text.
_SKIPPED = {_W + name for name in ("del", "moveFrom", "txbxContent", "sdtPr", "sdtEndPr", "rt")} | {_MC + "Fallback"}
_CHARACTERS = {
    _W + "tab": "\t",
    _W + "ptab": "\t",
    _W + "br": "\n",
    _W + "cr": "\n",
    _W + "noBreakHyphen": "-",
}


def _block_elements(parent, contents_styles: frozenset[str]) -> Iterator:
    """The paragraphs and tables under ``parent`` in order, through content controls; not
    the table of contents (a control, or paragraphs in ``contents_styles``, the ids of the
    contents styles), nor a content control that shows its placeholder."""
    for child in parent:
        if child.tag in (_W + "p", _W + "tbl"):
            if not (child.tag == _W + "p" and _style_id(child) in contents_styles):
                yield child
        elif child.tag in _TRANSPARENT and not _contents_or_placeholder(child):
            yield from _block_elements(child, contents_styles)


# Characters Word inserts from a symbol font (Insert > Symbol, a ticked box), by font and by
# the font's own code: the ones forms and clinical notes use. Any other is left out, as before.
_SYMBOLS = {
    "wingdings": {0x6F: "\u2610", 0xA8: "\u2610", 0xFE: "\u2611", 0xFD: "\u2612", 0xFC: "\u2713", 0xFB: "\u2717"},
    "wingdings 2": {0xA3: "\u2610", 0x52: "\u2611", 0x54: "\u2612", 0x50: "\u2713", 0x4F: "\u2717"},
    "symbol": {
        0xB3: "\u2265", 0xA3: "\u2264", 0xB1: "\u00b1", 0xB4: "\u00d7", 0xB8: "\u00f7", 0xB0: "\u00b0",
        0xB9: "\u2260", 0xBB: "\u2248", 0xAE: "\u2192", 0xAC: "\u2190", 0xA5: "\u221e", 0xD6: "\u221a",
        0xB7: "\u2022", 0x61: "\u03b1", 0x62: "\u03b2", 0x67: "\u03b3", 0x64: "\u03b4", 0x6D: "\u03bc",
        0x70: "\u03c0", 0x73: "\u03c3", 0x44: "\u0394", 0x57: "\u03a9",
    },
}  # fmt: skip


def _symbol(sym) -> str:
    """A ``w:sym`` character as Unicode, when its font's code is a known one."""
    font = (sym.get(_W + "font") or "").casefold()
    try:
        code = int(sym.get(_W + "char") or "", 16)
    except ValueError:
        return ""
    return _SYMBOLS.get(font, {}).get(code & 0xFF if code >= 0xF000 else code, "")


def _form_checkbox(field_char) -> str:
    """A legacy form check box (a FORMCHECKBOX field) as the box Word shows: ticked or not."""
    box = field_char.find(f"{_W}ffData/{_W}checkBox")
    if box is None:
        return ""
    state = box.find(_W + "checked")
    if state is None:
        state = box.find(_W + "default")
    ticked = state is not None and state.get(_W + "val", "1") not in ("0", "false", "off")
    return "\u2612" if ticked else "\u2610"


def _contents_or_placeholder(element) -> bool:
    """Whether a content control is a table of contents, or still shows its placeholder."""
    if element.tag != _W + "sdt":
        return False
    properties = element.find(_W + "sdtPr")
    if properties is None:
        return False
    if properties.find(_W + "showingPlcHdr") is not None:
        return True
    gallery = properties.find(f"{_W}docPartObj/{_W}docPartGallery")
    return gallery is not None and gallery.get(_W + "val") == "Table of Contents"


def _style_id(paragraph) -> str | None:
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    return style.get(_W + "val") if style is not None else None


def _contents_styles(document) -> frozenset[str]:
    """The ids of the document's table-of-contents paragraph styles."""
    try:
        styles = document.styles.element
    except (KeyError, ValueError):  # no styles part
        return frozenset()
    return frozenset(
        style_id
        for style in styles.iterfind(_W + "style")
        if (name := style.find(_W + "name")) is not None
        and _CONTENTS_STYLE.fullmatch(name.get(_W + "val") or "")
        # Without an id no paragraph can use the style (and None would match unstyled ones).
        and (style_id := style.get(_W + "styleId")) is not None
    )


def _paragraph_text(paragraph) -> str:
    """A paragraph's text as Word shows it, wherever its runs are nested."""
    parts: list[str] = []

    def visit(element) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIPPED:  # comments and processing instructions
                continue
            if (tag == _W + "r" and _hidden(child)) or _contents_or_placeholder(child):
                continue
            if tag == _W + "t":
                parts.append(child.text or "")
            elif tag in _CHARACTERS:
                parts.append(_CHARACTERS[tag])
            elif tag == _W + "sym":
                parts.append(_symbol(child))
            elif tag == _W + "fldChar":
                parts.append(_form_checkbox(child))
            elif tag in (_M + "oMath", _M + "oMathPara"):
                parts.append(_math_text(child))
            elif tag != _W + "pPr":
                visit(child)

    visit(paragraph)
    return "".join(parts)


def _math_text(element) -> str:
    """An equation in Word's linear format: "a/b" (a part with an operator in brackets), "x^2",
    "x_i", "\u221a(x)" and "\u221a(3&x)", delimiters as written ("|x|"), "\u2211_(i=1)^n x_i",
    "sin x", rows of aligned equations and matrices "; " apart; the equations of one
    paragraph a space apart. A structure not listed reads as its parts in order."""
    tag = element.tag
    if tag == _M + "t":
        return element.text or ""
    if not isinstance(tag, str) or not tag.startswith(_M) or tag.endswith("Pr"):  # properties
        return ""

    def part(name: str, grouped: bool = False) -> str:
        found = element.find(_M + name)
        text = _math_text(found) if found is not None else ""
        return f"({text})" if grouped and (_OPERATORS.search(text) or not text) else text

    def has(name: str) -> bool:
        found = element.find(_M + name)
        return found is not None and _math_text(found) != ""

    def scripts() -> str:
        return (f"_{part('sub', True)}" if has("sub") else "") + (f"^{part('sup', True)}" if has("sup") else "")

    if tag == _M + "f":
        return f"{part('num', True)}/{part('den', True)}"
    if tag in (_M + "sSup", _M + "sSub", _M + "sSubSup"):
        return part("e", True) + scripts()
    if tag == _M + "sPre":
        return scripts() + part("e", True)
    if tag == _M + "rad":
        degree = part("deg")
        return f"\u221a({degree}&{part('e')})" if degree else f"\u221a({part('e')})"
    if tag == _M + "d":
        begin = _math_property(element, "dPr", "begChr", "(")
        end = _math_property(element, "dPr", "endChr", ")")
        separator = _math_property(element, "dPr", "sepChr", "|")
        return begin + separator.join(_math_text(e) for e in element.findall(_M + "e")) + end
    if tag == _M + "nary":
        sign = _math_property(element, "naryPr", "chr", "\u222b")
        return f"{sign}{scripts()} {part('e')}"
    if tag == _M + "func":
        return f"{part('fName')} {part('e')}"
    if tag == _M + "acc":  # an accent over its base: the base, then the combining mark
        return part("e") + _math_property(element, "accPr", "chr", "\u0302")
    if tag == _M + "bar":
        return part("e") + "\u0305"
    if tag in (_M + "limLow", _M + "limUpp"):
        return part("e") + ("_" if tag == _M + "limLow" else "^") + part("lim", True)
    if tag == _M + "eqArr":  # equations aligned one above the other
        return "; ".join(_math_text(e) for e in element.findall(_M + "e"))
    if tag == _M + "m":  # a matrix, row by row
        rows = (", ".join(_math_text(e) for e in row.findall(_M + "e")) for row in element.findall(_M + "mr"))
        return "[" + "; ".join(rows) + "]"
    if tag == _M + "oMathPara":
        return " ".join(_math_text(child) for child in element if child.tag == _M + "oMath")
    return "".join(_math_text(child) for child in element)


def _math_property(element, properties: str, name: str, default: str) -> str:
    """A character a math structure's properties set (``m:chr``, ``m:begChr``...), else its default."""
    found = element.find(f"{_M}{properties}/{_M}{name}")
    return found.get(_M + "val", default) if found is not None else default


def _hidden(run) -> bool:
    """Whether a run is formatted as hidden text (Home > Font > Hidden), which Word does not
    show or print: a writer may hide notes there that are not meant to be read."""
    properties = run.find(_W + "rPr")
    vanish = properties.find(_W + "vanish") if properties is not None else None
    return vanish is not None and vanish.get(_W + "val", "true") not in ("0", "false", "off")


def _cell_text(cell, contents_styles: frozenset[str], numbering: _Numbering) -> str:
    """A cell's paragraphs, and the cells of a table inside it, as one line."""
    texts = []
    for element in _block_elements(cell, contents_styles):
        if element.tag == _W + "tbl":
            texts.extend(block.text for block in _table_rows(element, contents_styles, numbering))
        else:
            texts.append(_numbered_text(element, numbering))
    return " ".join(" ".join(texts).split())


def _table_rows(table, contents_styles: frozenset[str], numbering: _Numbering) -> Iterator[Block]:
    # Read from the XML, where a cell merged across columns is one element and one merged
    # down rows is an empty continuation after its first row (left out, as HTML's rowspan
    # leaves it). An empty cell between two with text keeps its place, as in HTML
    # ("Allergies |  | Smoker | No"): without it a value would sit beside the wrong label.
    for row in _block_children(table, "tr"):
        cells = [
            _cell_text(cell, contents_styles, numbering)
            for cell in _block_children(row, "tc")
            if not _merged_down(cell)
        ]
        if (row_block := table_row(cells)) is not None:
            yield row_block


def _merged_down(cell) -> bool:
    """Whether a cell continues the one above it (``w:vMerge`` without ``restart``)."""
    merge = cell.find(f"{_W}tcPr/{_W}vMerge")
    return merge is not None and merge.get(_W + "val", "continue") != "restart"


def _block_children(parent, name: str) -> Iterator:
    """``parent``'s children named ``name``, through content controls around them."""
    for child in parent:
        if child.tag == _W + name:
            yield child
        elif child.tag in _TRANSPARENT:
            yield from _block_children(child, name)


def _is_heading(paragraph) -> bool:
    from docx.oxml.ns import qn

    if _outline_level(paragraph._p.pPr, qn) is not None:
        return True
    style = paragraph.style
    for _ in range(_STYLE_DEPTH):
        if style is None:
            return False
        if _HEADING_STYLE.fullmatch(style.name or "") or _outline_level(style.element.pPr, qn) is not None:
            return True
        style = style.base_style
    return False


def _outline_level(properties, qn) -> int | None:
    """A paragraph's outline level 0-8 (shown in Word's navigation pane), if it has one."""
    if properties is None:
        return None
    level = properties.find(qn("w:outlineLvl"))
    if level is None:
        return None
    try:
        value = int(level.get(qn("w:val")))
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= 8 else None  # 9 means body text
