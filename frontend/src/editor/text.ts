// Positions in the server's terms. creo reads a rich-text field as its text blocks joined by
// "\n" (src/fields.rs), which is ProseMirror's `textBetween(…, "\n")`; comment anchors and
// spans are indexes into that text, in UTF-16 units like JavaScript strings.

import type { Node as PmNode } from '@tiptap/pm/model'

/** The plain-text index of the ProseMirror position `pos`. */
export function flatIndex(doc: PmNode, pos: number): number {
  return doc.textBetween(0, pos, '\n').length
}

/** The ProseMirror position of plain-text index `index` (the end of the text if beyond it). */
export function positionOf(doc: PmNode, index: number): number {
  let at = 0 // where the current text block starts in the plain text
  let found = -1
  let first = true
  doc.descendants((node, pos) => {
    if (found >= 0) return false
    if (!node.isTextblock) return true
    if (!first) at += 1
    first = false
    const length = node.textContent.length
    if (index <= at + length) {
      found = pos + 1 + Math.max(0, index - at)
      return false
    }
    at += length
    return false
  })
  return found >= 0 ? found : doc.content.size
}
