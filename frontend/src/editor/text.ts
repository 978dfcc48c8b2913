// Positions in the server's terms. creo reads a rich-text field as its text blocks joined by
// "\n" (src/fields.rs), which is ProseMirror's `textBetween(…, "\n")`; comment anchors and
// spans are indexes into that text, in UTF-16 units like JavaScript strings.

import type { Node as PmNode } from '@tiptap/pm/model'
import * as Y from 'yjs'

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

/**
 * The plain text of a Yjs rich-text fragment as the server reads it: text blocks joined by
 * "\n", marks dropped (the same text ProseMirror's `textBetween(…, "\n")` gives).
 */
export function plainText(fragment: Y.XmlFragment): string {
  const blocks: string[] = []
  const walk = (node: Y.XmlElement | Y.XmlFragment) => {
    let inline = ''
    let hasText = false
    for (const child of node.toArray()) {
      if (child instanceof Y.XmlText) {
        hasText = true
        inline += child.toDelta().map((d: { insert: unknown }) => (typeof d.insert === 'string' ? d.insert : '')).join('')
      } else if (child instanceof Y.XmlElement) walk(child)
    }
    if (hasText || (node instanceof Y.XmlElement && node.length === 0)) blocks.push(inline)
  }
  walk(fragment)
  return blocks.join('\n')
}
