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

/** One text block of a Yjs rich-text fragment: its text node and where it starts in the plain text. */
interface Block {
  text: Y.XmlText | null
  start: number
  length: number
}

/**
 * The text blocks of a Yjs rich-text fragment in reading order, placed in its plain text as the
 * server reads it (blocks joined by "\n", marks dropped: the text ProseMirror's
 * `textBetween(…, "\n")` gives).
 */
function blocksOf(fragment: Y.XmlFragment): Block[] {
  const blocks: Block[] = []
  let at = 0
  const walk = (node: Y.XmlElement | Y.XmlFragment) => {
    let text: Y.XmlText | null = null
    let length = 0
    for (const child of node.toArray()) {
      if (child instanceof Y.XmlText) {
        text ??= child
        length += child.length
      } else if (child instanceof Y.XmlElement) walk(child)
    }
    if (text || (node instanceof Y.XmlElement && node.length === 0)) {
      blocks.push({ text, start: at, length })
      at += length + 1
    }
  }
  walk(fragment)
  return blocks
}

/** The plain text of a Yjs rich-text fragment, as the server reads it. */
export function plainText(fragment: Y.XmlFragment): string {
  return blocksOf(fragment)
    .map((b) =>
      b.text
        ? b.text
            .toDelta()
            .map((d: { insert: unknown }) => (typeof d.insert === 'string' ? d.insert : ''))
            .join('')
        : '',
    )
    .join('\n')
}

/**
 * A Yjs relative position for plain-text index `index`: it stays on the same character
 * whatever anyone inserts or deletes around it (`assoc` < 0 sticks to the character before).
 */
export function relativeAt(fragment: Y.XmlFragment, index: number, assoc = 0): Y.RelativePosition | null {
  const block = blocksOf(fragment).find((b) => b.text && index >= b.start && index <= b.start + b.length)
  return block?.text ? Y.createRelativePositionFromTypeIndex(block.text, index - block.start, assoc) : null
}

/** The plain-text index a relative position points at now (`null` when its text was deleted). */
export function indexAt(doc: Y.Doc, fragment: Y.XmlFragment, position: Y.RelativePosition): number | null {
  const absolute = Y.createAbsolutePositionFromRelativePosition(position, doc)
  if (!absolute) return null
  const block = blocksOf(fragment).find((b) => b.text === absolute.type)
  return block ? block.start + absolute.index : null
}
