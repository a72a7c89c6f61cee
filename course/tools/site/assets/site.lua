-- The site's pandoc filter: footnotes -> margin notes, tables -> scrolling boxes.

-- Footnotes become margin notes (Tufte/distill style): the note's text is placed next to its
-- number; site.css floats it into the right margin on wide screens and shows it below the
-- paragraph, behind a tap on the number, on narrow ones. No JavaScript involved.
local count = 0

function Note(note)
  count = count + 1
  local id = "sn-" .. count
  local inlines = pandoc.utils.blocks_to_inlines(note.content, {pandoc.Space()})
  local out = pandoc.List({
    pandoc.RawInline("html", '<label for="' .. id .. '" class="sidenote-number" title="note ' ..
      count .. '">' .. count .. '</label><input type="checkbox" id="' .. id ..
      '" class="margin-toggle"><span class="sidenote" role="note"><span class="sidenote-mark">' ..
      count .. '</span> '),
  })
  out:extend(inlines)
  out:insert(pandoc.RawInline("html", "</span>"))
  return out
end

-- Tables scroll inside their own box on narrow screens instead of widening the page; a box that
-- scrolls is focusable (tabindex 0), so that a keyboard can scroll it too (WCAG 2.1.1).
local FOCUSABLE = {tabindex = "0"}

function Table(tbl)
  return pandoc.Div({tbl}, pandoc.Attr("", {"table-wrap"}, FOCUSABLE))
end

-- Equations likewise: Chromium does not scroll a <math> element itself, and MathML does not
-- break lines, so each display equation, and each long inline one, sits in a box that scrolls.
local LONG_INLINE = 40 -- TeX characters; shorter inline math fits a phone's line

function Math(m)
  if m.mathtype == "DisplayMath" then
    return pandoc.Span({m}, pandoc.Attr("", {"math-scroll"}, FOCUSABLE))
  elseif #m.text > LONG_INLINE then
    return pandoc.Span({m}, pandoc.Attr("", {"math-scroll-inline"}, FOCUSABLE))
  end
end
