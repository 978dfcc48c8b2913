import { useEffect, useState } from 'react'
import type { Editor } from '@tiptap/react'
import { ySyncPluginKey, yUndoPluginKey } from '@tiptap/y-tiptap'
import * as Y from 'yjs'
import { api, ApiError, credits, post, postForBytes } from '../api'
import type { Collab } from '../editor/collab'
import type { Generation, Hit, Quote, SuggestionResult as Suggestion } from '../apiTypes'

const STYLES: Record<string, string> = {
  lead: 'Strongest sentence first',
  short: 'Short',
  hashtags: 'With hashtags',
  short_hashtags: 'Short, with hashtags',
}

/** Hashtag suggestions, similar posts, and four variations priced before they run. */
export function AiPanel({
  docId,
  field,
  collab,
  canWrite,
  connection,
  editor,
}: {
  docId: string
  field: string
  collab: Collab
  canWrite: boolean
  connection: number
  /** The field's editor, whose undo history a chosen variation joins as a step of its own. */
  editor: Editor | null
}) {
  const [suggestion, setSuggestion] = useState<Suggestion | null>(null)
  const [titles, setTitles] = useState<Map<string, string>>(new Map())
  const [tags, setTags] = useState<Hit[] | null>(null)
  const [similar, setSimilar] = useState<Hit[] | null>(null)
  const [quote, setQuote] = useState<Quote | null>(null)
  const [generation, setGeneration] = useState<Generation | null>(null)
  const [message, setMessage] = useState('')

  useEffect(() => {
    api<Quote>(`/documents/${docId}/generations/quote`)
      .then(setQuote)
      .catch(() => {})
    // Similar posts are named by their titles.
    api<{ documents: { doc_id: string; title: string }[] }>('/documents')
      .then((r) => setTitles(new Map(r.documents.map((d) => [d.doc_id, d.title || d.doc_id]))))
      .catch(() => {})
    return collab.onEvent((e) => {
      const g = e.generation as Generation | undefined
      if (e.type === 'generation' && g) setGeneration((mine) => (mine?.generation_id === g.generation_id ? g : mine))
    })
  }, [docId, collab, connection])

  // The result comes as an event; a poll covers an event that raced ahead of the answer.
  const pending = generation?.status === 'pending' ? generation.generation_id : null
  useEffect(() => {
    if (!pending) return
    const timer = setInterval(() => {
      api<Generation>(`/documents/${docId}/generations/${pending}`)
        .then((g) => g.status !== 'pending' && setGeneration(g))
        .catch(() => {})
    }, 1500)
    return () => clearInterval(timer)
  }, [docId, pending])

  const run = async <T,>(what: Promise<T>, then: (v: T) => void) => {
    setMessage('')
    try {
      then(await what)
    } catch (e) {
      const err = e as ApiError
      setMessage(err.status === 402 ? `Not enough credits: ${err.message}` : err.message)
    }
  }

  return (
    <section aria-labelledby="ai-title" className="panel">
      <h2 id="ai-title">AI</h2>
      <p role="status" aria-live="polite" className={message ? 'error' : ''}>
        {message}
      </p>

      <h3>Hashtags</h3>
      <div className="row wrap">
        <button type="button" onClick={() => run(api<Hit[]>(`/documents/${docId}/hashtags?limit=8`), setTags)}>
          Suggest hashtags
        </button>
        {canWrite && (
          <button
            type="button"
            onClick={() =>
              run(post<Suggestion>(`/documents/${docId}/ai/suggestions`, { kind: 'hashtags', field, count: 3 }), setSuggestion)
            }
          >
            Let creo AI add the best three
          </button>
        )}
      </div>
      {suggestion && (
        <p className="row wrap" role="status">
          <span>
            creo AI added <strong>{suggestion.inserted.trim()}</strong>
          </span>
          <button
            type="button"
            onClick={() =>
              run(post(`/documents/${docId}/ai/suggestions/${suggestion.suggestion_id}/undo`), () => setSuggestion(null))
            }
          >
            Undo
          </button>
        </p>
      )}
      {tags && (
        <ul className="chips" aria-label="Suggested hashtags">
          {tags.map((t) => (
            <li key={t.doc_id}>{t.doc_id}</li>
          ))}
        </ul>
      )}

      <h3>Similar posts</h3>
      <button type="button" onClick={() => run(api<Hit[]>(`/documents/${docId}/similar?limit=5`), setSimilar)}>
        Find similar posts
      </button>
      {similar && (
        <ul>
          {similar.length === 0 && <li>No similar posts yet.</li>}
          {similar.map((h) => (
            <li key={h.doc_id}>
              <a href={`#/doc/${h.doc_id}`}>{titles.get(h.doc_id) ?? h.doc_id}</a>{' '}
              <span className="hint">{Math.round(h.score * 100)}% alike</span>
            </li>
          ))}
        </ul>
      )}

      <h3>Four variations</h3>
      {quote && (
        <p data-testid="generation-quote">
          {quote.variations} variations × {credits(quote.price_milli_each)} credits ={' '}
          <strong>{credits(quote.total_milli)} credits</strong>, charged only for the variations that succeed.
        </p>
      )}
      {canWrite && (
        <button
          type="button"
          className="primary"
          disabled={generation?.status === 'pending'}
          onClick={() => run(post<Generation>(`/documents/${docId}/generations`, { field }), setGeneration)}
        >
          {quote ? `Generate for ${credits(quote.total_milli)} credits` : 'Generate'}
        </button>
      )}
      {generation?.status === 'pending' && <p role="status">Writing variations…</p>}
      {generation?.status === 'failed' && <p className="error">The variations could not be made; nothing was charged.</p>}
      {generation?.status === 'done' && (
        <>
          <p className="hint">Charged {credits(generation.charged_milli)} credits.</p>
          <ol className="variations">
            {generation.variations.map((v) => (
              <li key={v.index}>
                <strong>{STYLES[v.style] ?? v.style}</strong>
                {v.similarity != null && <span className="hint"> · {Math.round(v.similarity * 100)}% faithful</span>}
                <p className="variation-text">{v.error ?? v.text}</p>
                {canWrite && !v.error && (
                  <button
                    type="button"
                    disabled={generation.selected === v.index}
                    onClick={() =>
                      run(
                        postForBytes(`/documents/${docId}/generations/${generation.generation_id}/select`, {
                          index: v.index,
                          client_applies: true,
                        }),
                        (update) => {
                          // Applied as this person's own edit: it joins their undo history as a
                          // step of its own (not merged with typing just before or after), so
                          // the editor's Undo takes back exactly this.
                          const undo = editor && yUndoPluginKey.getState(editor.state)?.undoManager
                          undo?.stopCapturing()
                          Y.applyUpdate(collab.doc, update, ySyncPluginKey)
                          undo?.stopCapturing()
                          setGeneration({ ...generation, selected: v.index })
                          setMessage('')
                        },
                      )
                    }
                  >
                    {generation.selected === v.index ? 'In the post' : 'Use this'}
                  </button>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  )
}
