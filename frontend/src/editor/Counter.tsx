import { useEffect, useState } from 'react'
import { useEditorState, type Editor } from '@tiptap/react'
import type { Collab } from './collab'
import { FIELDS } from './fields'
import { plainText } from './text'

/**
 * Characters and hashtags against the platform's limit. An empty variant sends the main post,
 * so that is what it counts. Screen readers hear only crossing the limit, not every keystroke.
 */
export function Counter({ editor, field, collab }: { editor: Editor; field: string; collab: Collab }) {
  const own = useEditorState({
    editor,
    selector: ({ editor: e }) => e.state.doc.textBetween(0, e.state.doc.content.size, '\n'),
  })
  const main = useMainPost(collab, field !== 'post' && own.length === 0)
  const text = own.length === 0 && field !== 'post' ? main : own
  const limit = FIELDS.find((f) => f.field === field)?.limit ?? 0
  const chars = [...text].length
  const tags = (text.match(/#[\p{L}\p{N}_]+/gu) ?? []).length
  const over = limit > 0 && chars > limit
  const platform = FIELDS.find((f) => f.field === field)?.label
  return (
    <>
      <p className={over ? 'counter over' : 'counter'} data-testid="counter">
        {chars}
        {limit > 0 && ` / ${limit}`} characters · {tags} hashtags
        {field !== 'post' && own.length === 0 && ' · empty, so the main post goes out here (counted)'}
      </p>
      <p className="visually-hidden" role="status">
        {over ? `Over the ${platform} limit by ${chars - limit} characters` : ''}
      </p>
    </>
  )
}

/** The main post's text, kept current while `wanted`. */
function useMainPost(collab: Collab, wanted: boolean): string {
  const [text, setText] = useState('')
  useEffect(() => {
    if (!wanted) return
    const fragment = collab.doc.getXmlFragment('post')
    const update = () => setText(plainText(fragment))
    update()
    fragment.observeDeep(update)
    return () => fragment.unobserveDeep(update)
  }, [collab, wanted])
  return wanted ? text : ''
}
