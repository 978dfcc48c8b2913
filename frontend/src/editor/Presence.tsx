import { useEffect, useState } from 'react'
import type { Collab } from './collab'

interface Peer {
  key: string
  name: string
  color: string
  role: string
  self: boolean
}

export function Presence({ collab }: { collab: Collab }) {
  const [peers, setPeers] = useState<Peer[]>([])
  useEffect(() => {
    const awareness = collab.provider.awareness
    const update = () => {
      const seen = new Map<string, Peer>()
      awareness.getStates().forEach((state, clientId) => {
        const user = state.user as { name?: string; color?: string } | undefined
        if (!user?.name) return
        const creo = state.creo as { userId?: string; role?: string } | undefined
        const key = creo?.userId ?? user.name
        const self = clientId === awareness.clientID
        if (!seen.has(key) || self)
          seen.set(key, { key, name: user.name, color: user.color ?? '#4d5761', role: creo?.role ?? '', self })
      })
      setPeers([...seen.values()].sort((a, b) => Number(b.self) - Number(a.self)))
    }
    awareness.on('change', update)
    update()
    return () => awareness.off('change', update)
  }, [collab])
  return (
    <ul className="presence" aria-label="People here">
      {peers.map((p) => (
        <li
          key={p.key}
          className="avatar"
          style={{ background: p.color }}
          title={`${p.name}${p.self ? ' (you)' : ''}${p.role ? `, ${p.role}` : ''}`}
          data-name={p.name}
        >
          <span aria-hidden="true">{initials(p.name)}</span>
          <span className="visually-hidden">
            {p.name}
            {p.self ? ' (you)' : ''}
          </span>
        </li>
      ))}
    </ul>
  )
}

/** "Ana Lima" → "AL", "creo AI" → "CA", "bob" → "BO". */
function initials(name: string): string {
  const words = name.trim().split(/\s+/)
  const letters = words.length > 1 ? words[0][0] + words[1][0] : name.slice(0, 2)
  return letters.toUpperCase()
}
