import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { CairnError } from '@cairn/core'

/** Who holds a store: written into its lock file. */
interface Holder {
  readonly pid: number
  readonly hostname: string
  readonly command: string
  readonly since: string
}

/**
 * One writer per store file: a lock file created exclusively (`O_EXCL`) next to the database,
 * naming the process that holds it. A lock left by a process that died (kill -9, a crash) is
 * taken over: its pid no longer runs on this host. Returns the function that releases the lock.
 */
export function acquireStoreLock(lockPath: string, storeFile: string): () => void {
  const me: Holder = {
    pid: process.pid,
    hostname: hostname(),
    command: process.argv.slice(0, 3).join(' '),
    since: new Date().toISOString(),
  }
  for (let attempt = 0; ; attempt++) {
    let fd: number
    try {
      fd = openSync(lockPath, 'wx', 0o644)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(lockPath, e)
      const holder = readHolder(lockPath)
      if (holder !== undefined && isAlive(holder)) throw heldError(storeFile, lockPath, holder)
      if (attempt > 2) throw heldError(storeFile, lockPath, holder)
      // the holder is gone: remove its lock and try again (O_EXCL decides between racers)
      try {
        unlinkSync(lockPath)
      } catch (removeError) {
        if ((removeError as NodeJS.ErrnoException).code !== 'ENOENT') throw lockError(lockPath, removeError)
      }
      continue
    }
    try {
      writeSync(fd, JSON.stringify(me))
    } finally {
      closeSync(fd)
    }
    let released = false
    return () => {
      if (released) return
      released = true
      // only our own lock: never one another process took over meanwhile
      if (readHolder(lockPath)?.pid === me.pid) unlinkSync(lockPath)
    }
  }
}

function readHolder(lockPath: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<Holder>
    if (typeof parsed.pid !== 'number') return undefined
    return {
      pid: parsed.pid,
      hostname: String(parsed.hostname ?? ''),
      command: String(parsed.command ?? ''),
      since: String(parsed.since ?? ''),
    }
  } catch (e) {
    // a lock file being written right now reads empty: treated as held (see the retry limit)
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if (e instanceof SyntaxError) return undefined
    throw e
  }
}

function isAlive(holder: Holder): boolean {
  // another host's process cannot be checked from here: assume it runs
  if (holder.hostname !== hostname()) return true
  try {
    process.kill(holder.pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function heldError(storeFile: string, lockPath: string, holder: Holder | undefined): CairnError {
  const who =
    holder === undefined
      ? 'another process'
      : holder.pid === process.pid
        ? `this process (pid ${holder.pid}) already`
        : `process ${holder.pid} on ${holder.hostname} (${holder.command}, since ${holder.since})`
  return new CairnError(
    'StoreAlreadyOpen',
    `The store file ${storeFile} is held by ${who}. One process writes a store at a time: shut that store down first${
      holder !== undefined && holder.pid !== process.pid ? ' (or stop that process)' : ''
    }. If no such process runs, delete ${lockPath}.`,
  )
}

function lockError(lockPath: string, cause: unknown): CairnError {
  const e = cause as NodeJS.ErrnoException
  return new CairnError(
    'StorageUnavailable',
    `Cannot create the lock file ${lockPath} (${e.code ?? e.message}): the Node adapter needs a directory it can write; give this process write permission or choose another directory.`,
    { cause },
  )
}
