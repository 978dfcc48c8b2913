import { useCallback, useEffect, useState, type ChangeEvent, type FormEvent } from 'react'
import { api, apiBlob, ApiError } from '../api'
import { Alert } from '../Alert'
import { mediumUrl } from '../media'
import type { BrandFont, BrandKitView } from '../apiTypes'

/** The CSS family a brand font is loaded under (its own name may clash with a system font). */
const familyOf = (f: BrandFont) => `brand-${f.font_id}`

/** Loads each brand font into the page once, from its bytes fetched with the token. */
const loaded = new Map<string, Promise<void>>()
function loadFont(accountId: string, f: BrandFont): Promise<void> {
  let done = loaded.get(f.font_id)
  if (!done) {
    done = apiBlob(`/accounts/${accountId}/brand-kit/fonts/${f.font_id}`)
      .then((b) => b.arrayBuffer())
      .then((bytes) => new FontFace(familyOf(f), bytes).load())
      .then((face) => {
        document.fonts.add(face)
      })
    done.catch(() => loaded.delete(f.font_id))
    loaded.set(f.font_id, done)
  }
  return done
}

function Logo({ accountId, mediaId, name }: { accountId: string; mediaId: string; name: string }) {
  const [src, setSrc] = useState<string | null>(null)
  useEffect(() => {
    mediumUrl(accountId, mediaId, 'thumb').then(setSrc, () => setSrc(null))
  }, [accountId, mediaId])
  return (
    <figure className="brand-logo">
      {src ? <img src={src} alt={`${name} logo`} /> : <span className="medium-placeholder" />}
      <figcaption>{name}</figcaption>
    </figure>
  )
}

/** "Primary #1a2b3c" per line, as the form edits colours. */
const colorLines = (kit: BrandKitView) => kit.colors.map((c) => `${c.name} ${c.hex}`).join('\n')
const parseColors = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const at = l.lastIndexOf(' ')
      return at < 0 ? { name: l, hex: l } : { name: l.slice(0, at).trim(), hex: l.slice(at + 1) }
    })

/**
 * The workspace's brand kit beside the post: its colours, logos, fonts (drawn in themselves),
 * hashtags and voice. Owners and admins change it; the save names the revision it was made
 * against, so a change someone else made meanwhile is reloaded instead of overwritten.
 */
export function BrandPanel({ accountId, canManage }: { accountId: string; canManage: boolean }) {
  const [kit, setKit] = useState<BrandKitView | null>(null)
  const [error, setError] = useState('')
  const [flash, setFlash] = useState('')
  const [editing, setEditing] = useState(false)
  const [colors, setColors] = useState('')
  const [hashtags, setHashtags] = useState('')
  const [voice, setVoice] = useState('')
  const [ready, setReady] = useState<Set<string>>(new Set())

  const load = useCallback(() => {
    api<BrandKitView>(`/accounts/${accountId}/brand-kit`).then(setKit, (e: ApiError) => setError(e.message))
  }, [accountId])
  useEffect(load, [load])
  useEffect(() => {
    for (const f of kit?.fonts ?? []) {
      loadFont(accountId, f).then(
        () => setReady((r) => new Set(r).add(f.font_id)),
        () => {},
      )
    }
  }, [accountId, kit])

  const edit = () => {
    if (!kit) return
    setColors(colorLines(kit))
    setHashtags(kit.hashtags.join(' '))
    setVoice(kit.voice)
    setEditing(true)
  }

  const save = async (e: FormEvent) => {
    e.preventDefault()
    if (!kit) return
    setError('')
    const body = {
      colors: parseColors(colors),
      hashtags: hashtags.split(/[\s,]+/).filter(Boolean),
      voice,
    }
    try {
      const next = await api<BrandKitView>(`/accounts/${accountId}/brand-kit`, {
        method: 'PUT',
        body: JSON.stringify(body),
        headers: { 'if-match': `"${kit.revision}"` },
      })
      setKit(next)
      setEditing(false)
      setFlash('The brand kit is saved.')
    } catch (err) {
      const e = err as ApiError
      if (e.code === 'brand_kit_changed') {
        setError('Someone changed the brand kit meanwhile: here it is as they left it. Make your change again.')
        setEditing(false)
        load()
      } else setError(e.message)
    }
  }

  const uploadFont = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0]
    e.target.value = ''
    if (!file) return
    setError('')
    try {
      const f = await api<BrandFont>(`/accounts/${accountId}/brand-kit/fonts?name=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        body: file,
        headers: { 'content-type': 'application/octet-stream' },
      })
      setFlash(`${f.family} ${f.style} is in the brand kit.`)
      load()
    } catch (err) {
      setError(`“${file.name}”: ${(err as ApiError).message}`)
    }
  }

  if (!kit) return <Alert text={error} />
  const empty = !kit.colors.length && !kit.logos.length && !kit.fonts.length && !kit.hashtags.length && !kit.voice
  return (
    <section className="brand-panel stack" aria-label="Brand kit">
      <p className="flash" role="status" aria-live="polite">
        {flash}
      </p>
      <Alert text={error} />
      {empty && !editing && <p className="hint">No brand kit yet{canManage ? '' : ': owners and admins set it up'}.</p>}
      {kit.colors.length > 0 && (
        <ul className="brand-colors" aria-label="Brand colours">
          {kit.colors.map((c) => (
            <li key={`${c.name}${c.hex}`} data-testid="brand-color">
              <span className="swatch" style={{ background: c.hex }} aria-hidden="true" />
              {c.name} <code>{c.hex}</code>
            </li>
          ))}
        </ul>
      )}
      {kit.logos.length > 0 && (
        <div className="brand-logos row wrap">
          {kit.logos.map((l) => (
            <Logo key={l.media_id} accountId={accountId} mediaId={l.media_id} name={l.name} />
          ))}
        </div>
      )}
      {kit.fonts.length > 0 && (
        <ul className="brand-fonts" aria-label="Brand fonts">
          {kit.fonts.map((f) => (
            <li key={f.font_id} data-testid="brand-font" data-loaded={ready.has(f.font_id) ? 'yes' : 'no'}>
              <span style={{ fontFamily: `${familyOf(f)}, sans-serif`, fontWeight: f.weight }}>Aa {f.family}</span>{' '}
              <span className="hint">
                {f.style}, {f.weight}
              </span>
            </li>
          ))}
        </ul>
      )}
      {kit.hashtags.length > 0 && <p data-testid="brand-hashtags">{kit.hashtags.join(' ')}</p>}
      {kit.voice && (
        <blockquote className="brand-voice" data-testid="brand-voice">
          {kit.voice}
        </blockquote>
      )}
      {kit.voice_examples.length > 0 && (
        <p className="hint">{kit.voice_examples.length} voice examples guide the brand-voice score and generation.</p>
      )}
      {canManage && !editing && (
        <div className="row wrap">
          <button type="button" onClick={edit}>
            Edit brand kit
          </button>
          <label className="button">
            Add a font (.ttf, .otf)
            <input type="file" accept=".ttf,.otf,font/ttf,font/otf" onChange={uploadFont} hidden />
          </label>
        </div>
      )}
      {editing && (
        <form className="stack" onSubmit={save}>
          <label>
            Colours, one per line: name and #hex
            <textarea value={colors} onChange={(e) => setColors(e.target.value)} rows={4} />
          </label>
          <label>
            Hashtags
            <input value={hashtags} onChange={(e) => setHashtags(e.target.value)} />
          </label>
          <label>
            Voice
            <textarea value={voice} onChange={(e) => setVoice(e.target.value)} rows={3} maxLength={500} />
          </label>
          <div className="row">
            <button type="submit">Save brand kit</button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  )
}
