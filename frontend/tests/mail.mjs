// A real SMTP server for the browser tests (aiosmtpd, installed into target/py-smtp by
// scripts/install-smtp-server.sh), what it received read back with Python's email parser, and
// the links in it.

import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { rest } from './harness.mjs'

const root = resolve(import.meta.dirname, '../..')

/** A free loopback port. */
function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

/** Starts aiosmtpd on a free port: `{ url, mailTo(address), linkTo(address, route), kill() }`. */
export async function startSmtp() {
  const port = await freePort()
  const maildir = join(mkdtempSync(join(tmpdir(), 'creo-mail-')), 'maildir')
  const child = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], {
    env: { ...process.env, PYTHONPATH: join(root, 'target/py-smtp') },
    stdio: 'ignore',
  })
  for (let i = 0; ; i++) {
    const up = await new Promise((ok) => {
      const c = connect(port, '127.0.0.1', () => (c.end(), ok(true)))
      c.on('error', () => ok(false))
    })
    if (up) break
    if (i === 100) throw new Error('aiosmtpd did not start')
    await new Promise((ok) => setTimeout(ok, 100))
  }

  /** The plain-text bodies of the mail to `to`, oldest first. */
  function mailTo(to) {
    const script = `
import email, email.policy, json, mailbox, sys
out = []
for key, raw in sorted(mailbox.Maildir(sys.argv[1], create=False).iteritems(), key=lambda kv: kv[1].get_date()):
    m = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
    if sys.argv[2] in str(m["To"]):
        out.append(m.get_body(preferencelist=('plain',)).get_content())
print(json.dumps(out))`
    try {
      return JSON.parse(execFileSync('python3', ['-c', script, maildir, to]).toString())
    } catch {
      return []
    }
  }

  /** The newest `…#/<route>/<token>` link mailed to `to`, waiting up to ten seconds for it. */
  async function linkTo(to, route) {
    const pattern = new RegExp(`http://\\S+#/${route}/[A-Za-z0-9_]+`, 'g')
    for (let i = 0; i < 100; i++) {
      const links = mailTo(to).flatMap((text) => text.match(pattern) ?? [])
      if (links.length) return links[links.length - 1]
      await new Promise((ok) => setTimeout(ok, 100))
    }
    throw new Error(`no #/${route}/ link mailed to ${to}`)
  }

  return { url: `smtp://127.0.0.1:${port}`, mailTo, linkTo, kill: () => child.kill() }
}

/** Follows the verification link mailed to `who` at sign-up, as their mail client would. */
export async function verifyByMail(base, smtp, who) {
  const link = await smtp.linkTo(who.email, 'verify')
  const token = link.split('#/verify/')[1]
  await rest(base, '/auth/email/verify', { method: 'POST', body: { token } })
}
