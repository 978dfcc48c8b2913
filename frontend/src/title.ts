import { useEffect } from 'react'

/** The browser tab's title for the page on screen (screen readers announce it on navigation). */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · creo` : 'creo'
  }, [title])
}
