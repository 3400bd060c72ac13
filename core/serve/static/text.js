// Text from files on the page (docs/SERVE_PAGE.md, "Text from files"): always set as text
// (textContent, canvas fillText), never as HTML, and with control characters shown as escapes
// exactly as ownscan.core.text.escape_controls shows them on a terminal (ESC -> \x1b, LF -> \n,
// a bidirectional override -> \u202e), so a name cannot forge lines or reorder what is read.

// C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, BOM
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

export function escapeControls(value) {
  const s = value === null || value === undefined ? "" : String(value);
  return s.replace(CONTROL, (ch) => {
    if (NAMED[ch]) return NAMED[ch];
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

// An element of `tag` (class `cls`) holding `value` as escaped text.
export function textEl(tag, cls, value) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.textContent = escapeControls(value);
  return e;
}

// A value as the page writes it (a window's width and level, a preset's): whole from 100 up,
// else 3 significant figures (a dose grid's window of 0.46 Gy is not "0")
export const formatValue = (v) => (Math.abs(v) >= 100 ? Math.round(v) : +Number(v).toPrecision(3));
