// Highlights of the commented stretches of text. They are decorations, not marks: comments live
// on the server and must not change the document. The server says where each anchor is now (a
// plain-text index); the highlight then holds it as a pair of Yjs relative positions, which stay
// on the same characters through everyone's edits. Local typing moves the highlights with
// ProseMirror's own mapping; a remote change reaches ProseMirror as a replacement of the whole
// document (which that mapping would collapse), so after one they are placed again from the
// relative positions.

import { Extension } from '@tiptap/core'
import type { Editor } from '@tiptap/core'
import { Plugin, PluginKey, type EditorState } from '@tiptap/pm/state'
import { Decoration, DecorationSet } from '@tiptap/pm/view'
import { ySyncPluginKey } from '@tiptap/y-tiptap'
import * as Y from 'yjs'
import { indexAt, positionOf, relativeAt } from './text'

export interface Highlight {
  threadId: string
  index: number
  length: number
  active: boolean
}

interface Anchored {
  threadId: string
  from: Y.RelativePosition
  to: Y.RelativePosition
  active: boolean
}

interface Marks {
  anchors: Anchored[]
  decorations: DecorationSet
}

const key = new PluginKey<Marks>('commentMarks')

/** The Yjs document and fragment the editor is bound to. */
function boundTo(state: EditorState): { doc: Y.Doc; fragment: Y.XmlFragment } | null {
  const binding = ySyncPluginKey.getState(state)?.binding
  return binding ? { doc: binding.doc, fragment: binding.type } : null
}

function decorate(state: EditorState, anchors: Anchored[]): DecorationSet {
  const bound = boundTo(state)
  if (!bound || anchors.length === 0) return DecorationSet.empty
  const decorations = anchors.flatMap((a) => {
    const from = indexAt(bound.doc, bound.fragment, a.from)
    const to = indexAt(bound.doc, bound.fragment, a.to)
    if (from === null || to === null || to <= from) return []
    return [
      Decoration.inline(positionOf(state.doc, from), positionOf(state.doc, to), {
        class: a.active ? 'comment-mark active' : 'comment-mark',
        'data-thread': a.threadId,
      }),
    ]
  })
  return DecorationSet.create(state.doc, decorations)
}

export const CommentMarks = Extension.create({
  name: 'commentMarks',
  addProseMirrorPlugins() {
    return [
      new Plugin<Marks>({
        key,
        state: {
          init: () => ({ anchors: [], decorations: DecorationSet.empty }),
          apply: (tr, old, _before, after) => {
            const anchors = tr.getMeta(key) as Anchored[] | undefined
            if (anchors) return { anchors, decorations: decorate(after, anchors) }
            if (!tr.docChanged) return old
            const remote = (tr.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined)?.isChangeOrigin
            return {
              anchors: old.anchors,
              decorations: remote ? decorate(after, old.anchors) : old.decorations.map(tr.mapping, tr.doc),
            }
          },
        },
        props: { decorations: (state) => key.getState(state)?.decorations },
      }),
    ]
  },
})

export function showHighlights(editor: Editor, highlights: Highlight[]) {
  const bound = boundTo(editor.state)
  if (!bound) return
  const anchors = highlights.flatMap((h) => {
    // The start sticks to the first commented character, the end to the last.
    const from = relativeAt(bound.fragment, h.index, 0)
    const to = relativeAt(bound.fragment, h.index + h.length, -1)
    return from && to ? [{ threadId: h.threadId, active: h.active, from, to }] : []
  })
  editor.view.dispatch(editor.state.tr.setMeta(key, anchors))
}
