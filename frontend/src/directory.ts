// Who is who in a workspace: the members' names by user id, read once per workspace and shared
// by every panel, so people are named everywhere (comment authors, versions, workflow moves)
// even when they are not in the document right now. Never an id on screen.

import { useCallback, useEffect, useState } from 'react'
import { api, session } from './api'
import type { Member } from './apiTypes'

export type { Member }

const cache = new Map<string, Promise<Member[]>>()
const listeners = new Set<() => void>()

function load(accountId: string, fresh = false): Promise<Member[]> {
  if (fresh || !cache.has(accountId)) {
    const request = api<Member[]>(`/accounts/${accountId}/members`).catch((e) => {
      cache.delete(accountId)
      throw e
    })
    cache.set(accountId, request)
  }
  return cache.get(accountId)!
}

/** Reads the members again (after an invitation, a role change or a removal). */
export function reloadDirectory(accountId: string) {
  load(accountId, true)
    .then(() => listeners.forEach((l) => l()))
    .catch(() => {})
}

/** Names that are not people in the workspace. */
function special(userId: string): string | null {
  if (userId === 'creo-ai') return 'creo AI'
  // The publishing job's moves (published, failed).
  if (userId === 'system') return 'creo'
  if (userId.startsWith('app:')) return 'An app'
  return null
}

export function useDirectory(accountId: string): {
  members: Member[]
  /** "You" for the person signed in, else their name. */
  nameOf: (userId: string) => string
  /** Their name, even for the person signed in (a mention of you reads "@Your Name"). */
  named: (userId: string) => string
} {
  const [members, setMembers] = useState<Member[]>([])
  useEffect(() => {
    let live = true
    const read = () =>
      load(accountId)
        .then((m) => live && setMembers(m))
        .catch(() => {})
    read()
    listeners.add(read)
    return () => {
      live = false
      listeners.delete(read)
    }
  }, [accountId])
  const named = useCallback(
    (userId: string) => {
      const member = members.find((m) => m.user_id === userId)
      return special(userId) ?? (member?.name || member?.email || 'A former member')
    },
    [members],
  )
  const nameOf = useCallback(
    (userId: string) => (userId === session()?.userId ? 'You' : named(userId)),
    [named],
  )
  return { members, nameOf, named }
}
