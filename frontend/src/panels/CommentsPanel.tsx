import { useCallback, useEffect, useState, type FormEvent } from 'react'
import type { Editor } from '@tiptap/react'
import { api, ApiError, post, session } from '../api'
import type { Collab } from '../editor/collab'
import { showHighlights } from '../editor/commentMarks'

/** What the editor hands over when someone comments on a selection. */
export interface NewAnchor {
  field: string
  index: number
  length: number
  quoted: string
}

interface Comment {
  comment_id: string
  author: string
  body: string
  created_at: number
  anchor: { field: string; quoted: string } | null
}

interface Thread {
  thread_id: string
  resolved: boolean
  /** Each comment with where its anchor is now (`null` when its words were deleted). */
  comments: (Comment & { span: { index: number; length: number } | null })[]
}

/** A person's name as their presence shows it, "You", or their id. */
export function useNames(collab: Collab): (userId: string) => string {
  return useCallback(
    (userId: string) => {
      if (userId === session()?.userId) return 'You'
      for (const state of collab.provider.awareness.getStates().values()) {
        if ((state.creo as { userId?: string } | undefined)?.userId === userId)
          return (state.user as { name?: string } | undefined)?.name ?? userId
      }
      return userId
    },
    [collab],
  )
}

export function CommentsPanel({
  docId,
  field,
  collab,
  editor,
  canComment,
  anchor,
  onAnchorUsed,
}: {
  docId: string
  field: string
  collab: Collab
  editor: Editor | null
  canComment: boolean
  anchor: NewAnchor | null
  onAnchorUsed: () => void
}) {
  const [threads, setThreads] = useState<Thread[]>([])
  const [showResolved, setShowResolved] = useState(false)
  const [active, setActive] = useState<string | null>(null)
  const [error, setError] = useState('')
  const nameOf = useNames(collab)

  const load = useCallback(() => {
    api<Thread[]>(`/documents/${docId}/comments`)
      .then(setThreads)
      .catch((e: ApiError) => setError(e.message))
  }, [docId])
  useEffect(() => {
    load()
    return collab.onEvent((e) => e.type === 'comment' && load())
  }, [collab, load])

  // The open threads anchored in the field on screen are highlighted in the text.
  useEffect(() => {
    if (!editor || editor.isDestroyed) return
    const highlights = threads.flatMap((t) => {
      const first = t.comments[0]
      if (t.resolved || !first?.span || first.anchor?.field !== field) return []
      return [{ threadId: t.thread_id, ...first.span, active: t.thread_id === active }]
    })
    showHighlights(editor, highlights)
  }, [editor, threads, field, active])

  async function act(promise: Promise<unknown>) {
    try {
      await promise
      setError('')
      load()
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    if (!anchor) return
    const body = String(new FormData(e.currentTarget).get('body'))
    const { field: f, index, length } = anchor
    act(post(`/documents/${docId}/comments`, { body, anchor: { field: f, index, length } })).then(onAnchorUsed)
  }

  function reply(e: FormEvent<HTMLFormElement>, threadId: string) {
    e.preventDefault()
    const form = e.currentTarget
    const body = String(new FormData(form).get('body'))
    act(post(`/documents/${docId}/comments`, { body, reply_to: threadId })).then(() => form.reset())
  }

  const visible = threads.filter((t) => showResolved || !t.resolved)
  return (
    <section aria-labelledby="comments-title" className="panel">
      <h2 id="comments-title">Comments</h2>
      {anchor && canComment && (
        <form onSubmit={create} className="stack card-inset">
          <blockquote>“{anchor.quoted}”</blockquote>
          <label>
            Your comment
            <textarea name="body" required autoFocus rows={3} />
          </label>
          <div className="row">
            <button type="submit" className="primary">
              Comment
            </button>
            <button type="button" onClick={onAnchorUsed}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {!anchor && canComment && <p className="hint">Select text in the post, then “Comment on selection”.</p>}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <label className="inline">
        <input type="checkbox" checked={showResolved} onChange={(e) => setShowResolved(e.target.checked)} /> Show
        resolved
      </label>
      {visible.length === 0 && <p>No comments yet.</p>}
      <ol className="threads">
        {visible.map((t) => {
          const first = t.comments[0]
          return (
            <li
              key={t.thread_id}
              className={t.resolved ? 'thread resolved' : 'thread'}
              onMouseEnter={() => setActive(t.thread_id)}
              onMouseLeave={() => setActive(null)}
              onFocus={() => setActive(t.thread_id)}
            >
              {first?.anchor && (
                <blockquote>
                  “{first.anchor.quoted}”{!first.span && <em> (text deleted)</em>}
                </blockquote>
              )}
              <ul className="comments">
                {t.comments.map((comment) => (
                  <li key={comment.comment_id}>
                    <strong>{nameOf(comment.author)}</strong>{' '}
                    <time dateTime={new Date(comment.created_at).toISOString()}>
                      {new Date(comment.created_at).toLocaleTimeString()}
                    </time>
                    <p className="comment-body">{comment.body}</p>
                  </li>
                ))}
              </ul>
              {canComment && (
                <div className="stack">
                  {!t.resolved && (
                    <form onSubmit={(e) => reply(e, t.thread_id)} className="row">
                      <label className="grow">
                        <span className="visually-hidden">Reply</span>
                        <input name="body" placeholder="Reply" required />
                      </label>
                      <button type="submit">Reply</button>
                    </form>
                  )}
                  <button
                    type="button"
                    onClick={() =>
                      act(post(`/documents/${docId}/comments/${t.thread_id}/${t.resolved ? 'reopen' : 'resolve'}`))
                    }
                  >
                    {t.resolved ? 'Reopen' : 'Resolve'}
                  </button>
                </div>
              )}
            </li>
          )
        })}
      </ol>
    </section>
  )
}
