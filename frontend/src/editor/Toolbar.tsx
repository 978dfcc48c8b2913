import { useEditorState, type Editor } from '@tiptap/react'
import type { NewAnchor } from '../panels/CommentsPanel'
import { flatIndex } from './text'

/** Bold, italic, a list, undo and redo of one's own edits, and commenting on the selection. */
export function Toolbar({
  editor,
  editable,
  field,
  onComment,
}: {
  editor: Editor
  editable: boolean
  field: string
  onComment?: (a: NewAnchor) => void
}) {
  const state = useEditorState({
    editor,
    selector: ({ editor: e }) => ({
      bold: e.isActive('bold'),
      italic: e.isActive('italic'),
      bullet: e.isActive('bulletList'),
      empty: e.state.selection.empty,
    }),
  })
  const comment = () => {
    const { from, to } = editor.state.selection
    const doc = editor.state.doc
    const index = flatIndex(doc, from)
    onComment?.({ field, index, length: flatIndex(doc, to) - index, quoted: doc.textBetween(from, to, '\n') })
  }
  return (
    <div role="toolbar" aria-label="Formatting" className="toolbar">
      {editable && (
        <>
          <button
            type="button"
            aria-pressed={state.bold}
            onClick={() => editor.chain().focus().toggleBold().run()}
            title="Bold (Ctrl+B)"
          >
            <b>B</b>
            <span className="visually-hidden">Bold</span>
          </button>
          <button
            type="button"
            aria-pressed={state.italic}
            onClick={() => editor.chain().focus().toggleItalic().run()}
            title="Italic (Ctrl+I)"
          >
            <i>I</i>
            <span className="visually-hidden">Italic</span>
          </button>
          <button
            type="button"
            aria-pressed={state.bullet}
            onClick={() => editor.chain().focus().toggleBulletList().run()}
          >
            • List
          </button>
          <button type="button" onClick={() => editor.chain().focus().undo().run()} title="Undo your last edit (Ctrl+Z)">
            <span aria-hidden="true">↶</span> <span className="wide-only">Undo</span>
            <span className="narrow-only visually-hidden">Undo</span>
          </button>
          <button type="button" onClick={() => editor.chain().focus().redo().run()} title="Redo (Ctrl+Shift+Z)">
            <span aria-hidden="true">↷</span> <span className="wide-only">Redo</span>
            <span className="narrow-only visually-hidden">Redo</span>
          </button>
        </>
      )}
      {onComment && (
        <button type="button" disabled={state.empty} onClick={comment}>
          Comment<span className="wide-only"> on selection</span>
          <span className="narrow-only visually-hidden"> on selection</span>
        </button>
      )}
    </div>
  )
}
