// Highlights of the commented stretches of text. They are decorations, not marks: comments live
// on the server and must not change the document. The server says where each anchor is now (a
// plain-text index); the highlight then holds it as a pair of Yjs relative positions, which stay
// on the same characters through everyone's edits. (ProseMirror's own position mapping cannot:
// a remote change reaches ProseMirror as a replacement of the whole document, which would
// collapse every highlight.)

import { Extension } from '@tiptap/core'
import type { Editor } from '@tiptap/core'
import { Plugin, PluginKey, type EditorState } from '@tiptap/pm/state'
import { Decoration, DecorationSet } from '@tiptap/pm/view'
import {
  absolutePositionToRelativePosition,
  relativePositionToAbsolutePosition,
  ySyncPluginKey,
} from '@tiptap/y-tiptap'
import type * as Y from 'yjs'
import { positionOf } from './text'

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

/** The Yjs binding of the editor (its fragment, document and node mapping), once it is bound. */
function bindingOf(state: EditorState) {
  return ySyncPluginKey.getState(state)?.binding ?? null
}

function decorate(state: EditorState, anchors: Anchored[]): DecorationSet {
  const binding = bindingOf(state)
  if (!binding || anchors.length === 0) return DecorationSet.empty
  const decorations = anchors.flatMap((a) => {
    const from = relativePositionToAbsolutePosition(binding.doc, binding.type, a.from, binding.mapping)
    const to = relativePositionToAbsolutePosition(binding.doc, binding.type, a.to, binding.mapping)
    if (from === null || to === null || to <= from) return []
    return [
      Decoration.inline(from, to, {
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
            const anchors = (tr.getMeta(key) as Anchored[] | undefined) ?? old.anchors
            if (anchors === old.anchors && !tr.docChanged) return old
            return { anchors, decorations: decorate(after, anchors) }
          },
        },
        props: { decorations: (state) => key.getState(state)?.decorations },
      }),
    ]
  },
})

export function showHighlights(editor: Editor, highlights: Highlight[]) {
  const state = editor.state
  const binding = bindingOf(state)
  if (!binding) return
  const anchors = highlights.map((h) => ({
    threadId: h.threadId,
    active: h.active,
    from: absolutePositionToRelativePosition(positionOf(state.doc, h.index), binding.type, binding.mapping),
    to: absolutePositionToRelativePosition(positionOf(state.doc, h.index + h.length), binding.type, binding.mapping),
  }))
  editor.view.dispatch(state.tr.setMeta(key, anchors))
}
