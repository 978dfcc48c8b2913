// What this browser keeps so the editor works without the network: each document a person
// opened, whole, in IndexedDB (y-indexeddb, one database per person, workspace and document),
// its title beside it, and the app shell in the service worker's cache (public/sw.js is made by
// scripts/service-worker.mjs at build). Signing out removes the copies, except those holding
// edits the server has not confirmed: those are never thrown away.

/** The IndexedDB database that holds one person's copy of one document. */
export const deviceCopy = (userId: string, accountId: string, docId: string) =>
  `creo.doc.${userId}.${accountId}.${docId}`

/** Where this person's unconfirmed edits to a document are marked (and kept) in localStorage. */
export const unsentKey = (userId: string, accountId: string, docId: string) =>
  `creo.unsent.${userId}.${accountId}.${docId}`

const titleKey = (userId: string, accountId: string, docId: string) => `creo.title.${userId}.${accountId}.${docId}`

/** Remembers a document's title, for opening it offline. */
export function rememberTitle(userId: string, accountId: string, docId: string, title: string) {
  try {
    localStorage.setItem(titleKey(userId, accountId, docId), title)
  } catch {
    /* storage full: the document opens offline under its id */
  }
}

/** The title last seen for a document kept on this device, or null when it is not kept here. */
export function keptTitle(userId: string, accountId: string, docId: string): string | null {
  return localStorage.getItem(titleKey(userId, accountId, docId))
}

/** Removes this person's document copies from this device, except those with unsent edits. */
export async function forgetDevice(userId: string) {
  const unsent = new Set(
    Object.keys(localStorage)
      .filter((k) => k.startsWith(`creo.unsent.${userId}.`))
      .map((k) => k.slice('creo.unsent.'.length)),
  )
  for (const key of Object.keys(localStorage)) {
    const rest = key.startsWith(`creo.title.${userId}.`) ? key.slice('creo.title.'.length) : null
    if (rest && !unsent.has(rest)) localStorage.removeItem(key)
  }
  const databases = (await indexedDB.databases?.()) ?? []
  for (const { name } of databases) {
    if (name?.startsWith(`creo.doc.${userId}.`) && !unsent.has(name.slice('creo.doc.'.length)))
      indexedDB.deleteDatabase(name)
  }
}

/** Installs the service worker that serves the app shell offline (built editor only). */
export function registerServiceWorker() {
  if (import.meta.env.PROD && 'serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      /* no offline shell: the editor still works online */
    })
  }
}
