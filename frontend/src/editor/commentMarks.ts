// Highlights of the commented stretches of text. They are decorations, not marks: comments live
// on the server, anchored by Yjs relative positions, and must not change the document. The
// server says where each anchor is now; between refreshes the highlights move with edits.

import { Extension } from '@tiptap/core'
import { Plugin, PluginKey } from '@tiptap/pm/state'
import { Decoration, DecorationSet } from '@tiptap/pm/view'
import type { Editor } from '@tiptap/core'
import { positionOf } from './text'

export interface Highlight {
  threadId: string
  index: number
  length: number
  active: boolean
}

const key = new PluginKey<DecorationSet>('commentMarks')

export const CommentMarks = Extension.create({
  name: 'commentMarks',
  addProseMirrorPlugins() {
    return [
      new Plugin<DecorationSet>({
        key,
        state: {
          init: () => DecorationSet.empty,
          apply: (tr, old) => tr.getMeta(key) ?? old.map(tr.mapping, tr.doc),
        },
        props: { decorations: (state) => key.getState(state) },
      }),
    ]
  },
})

export function showHighlights(editor: Editor, highlights: Highlight[]) {
  const doc = editor.state.doc
  const decorations = highlights.map((h) =>
    Decoration.inline(positionOf(doc, h.index), positionOf(doc, h.index + h.length), {
      class: h.active ? 'comment-mark active' : 'comment-mark',
      'data-thread': h.threadId,
    }),
  )
  editor.view.dispatch(editor.state.tr.setMeta(key, DecorationSet.create(doc, decorations)))
}
