import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'

// the bin's source under tsx, as cli.test.ts runs it
const bin = join(import.meta.dirname, '..', 'src', 'bin.ts')
const node = ['--conditions=@cairn/source', '--import', 'tsx', bin]

/**
 * The `cairn-sync` command as a child process on one data directory and one port, so it can be
 * killed (SIGKILL: no shutdown code runs) and started again where clients expect it.
 */
export class ServerProcess {
  private child: ChildProcess | undefined
  private exited: Promise<number | null> | undefined
  private output = ''
  /** Starts so far (the first included). */
  starts = 0

  private constructor(
    readonly port: number,
    private readonly dataDir: string,
    private readonly token: string,
  ) {}

  /** A server on a free port of loopback (not started). */
  static async onFreePort(dataDir: string, token: string): Promise<ServerProcess> {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    return new ServerProcess(port, dataDir, token)
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** What the process printed (stdout and stderr), for failure messages. */
  get log(): string {
    return this.output
  }

  /** Starts the process and resolves once it listens. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child !== undefined) throw new Error('the sync server is already running')
    const child = spawn(process.execPath, [...node, '--data-dir', this.dataDir, '--port', String(this.port)], {
      env: { ...process.env, CAIRN_SYNC_TOKEN: this.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    this.starts++
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    let seen = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cairn-sync did not listen within ${timeoutMs} ms: ${this.output}`)), timeoutMs)
      child.stdout!.on('data', (chunk: Buffer) => {
        this.output += chunk.toString()
        seen += chunk.toString()
        if (seen.includes('listening on')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()))
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`cairn-sync exited with ${code} before listening: ${this.output}`))
      })
    })
  }

  /** SIGKILL, and resolves once the process is gone. */
  async kill9(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    child.kill('SIGKILL')
    await this.exited
    this.child = undefined
  }

  /** SIGTERM (a clean stop); resolves with the exit code. */
  async stop(): Promise<number | null> {
    const child = this.child
    if (child === undefined) return null
    child.kill('SIGTERM')
    const code = (await this.exited) ?? null
    this.child = undefined
    return code
  }
}
