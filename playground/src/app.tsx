import { StoreProvider } from '@cairn/react'
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react'
import type { Schema } from '@cairn/core'
import { PRESETS } from './presets.ts'
import type { SchemaSource } from './schema-module.ts'
import { evaluateSchema, type SourceProblem } from './schema-eval.ts'
import { readSharedHash, shareUrl } from './share.ts'
import { ClientsView } from './views/clients-view.tsx'
import { CommitView } from './views/commit-view.tsx'
import { DevtoolsView } from './views/devtools-view.tsx'
import { EventlogView } from './views/eventlog-view.tsx'
import { QueriesView, type PlaygroundQuery } from './views/queries-view.tsx'
import { TablesView } from './views/tables-view.tsx'
import { ViewBoundary } from './views/view-boundary.tsx'
import type { Workspace } from './workspace.ts'

// CodeMirror loads after the first render: the page is usable (forms, tables) before the editor is
const SchemaEditor = lazy(() => import('./editor.tsx').then((m) => ({ default: m.SchemaEditor })))

const TABS = ['Commit', 'Tables', 'Queries', 'Eventlog', 'Clients', 'Devtools'] as const
type Tab = (typeof TABS)[number]
const SAVED = 'cairn-playground'

interface Saved {
  readonly code: string
  readonly storeId: string
  readonly preset: string
}

function loadSaved(): Saved | undefined {
  const text = localStorage.getItem(SAVED)
  if (text === null) return undefined
  try {
    const s = JSON.parse(text) as Partial<Saved>
    return typeof s.code === 'string' && typeof s.storeId === 'string' ? { code: s.code, storeId: s.storeId, preset: s.preset ?? 'custom' } : undefined
  } catch (e) {
    console.warn(`Ignoring the saved playground state: ${(e as Error).message}`)
    return undefined
  }
}

const defaultStoreId = (preset: string) => `playground-${preset}`

export function App(props: { readonly workspace: Workspace }) {
  const { workspace } = props
  const ws = useSyncExternalStore(workspace.subscribe, workspace.snapshot)
  const first = PRESETS[0]!
  const [code, setCode] = useState(first.code)
  const [preset, setPreset] = useState(first.name)
  const [storeId, setStoreId] = useState(defaultStoreId(first.name))
  const [problem, setProblem] = useState<SourceProblem | undefined>()
  const [ranCode, setRanCode] = useState<string | undefined>()
  const [fromLink, setFromLink] = useState(false)
  const [notice, setNotice] = useState<string | undefined>()
  const [tab, setTab] = useState<Tab>('Commit')
  const [visited, setVisited] = useState<ReadonlySet<Tab>>(new Set())
  useEffect(() => setVisited((v) => (v.has(tab) ? v : new Set([...v, tab]))), [tab])
  const [active, setActive] = useState('A')
  const [queries, setQueries] = useState<readonly PlaygroundQuery[]>([])
  const [dark, setDark] = useState(() => (localStorage.getItem(`${SAVED}-theme`) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) === 'dark')
  const [showEditor, setShowEditor] = useState(true)
  const [shareLink, setShareLink] = useState<string | undefined>()

  const runId = useRef(0)
  const run = useCallback(
    (source: string, id: string, presetName: string) => {
      const current = ++runId.current
      const compiled = PRESETS.find((p) => p.code === source)
      // the clients' workers get the same schema: a preset by name, edited code as the module the page ran
      const evaluated: Promise<{ ok: true; schema: Schema; from: SchemaSource } | { ok: false; problem: SourceProblem }> =
        compiled !== undefined
          ? Promise.resolve({ ok: true, schema: compiled.schema, from: { preset: compiled.name } })
          : evaluateSchema(source).then((r) => (r.ok ? { ok: true, schema: r.schema, from: { code: r.code } } : r))
      evaluated
        .then((result) => {
          if (current !== runId.current) return
          if (!result.ok) {
            setProblem(result.problem)
            return
          }
          setProblem(undefined)
          setRanCode(source)
          setFromLink(false)
          setQueries([])
          localStorage.setItem(SAVED, JSON.stringify({ code: source, storeId: id, preset: presetName }))
          return workspace.run(result.schema, id, result.from)
        })
        .catch((e: unknown) => setNotice((e as Error)?.message ?? String(e)))
    },
    [workspace],
  )

  // first load: a shared link waits for Run; the person's own last schema (or the first preset) runs at once
  const booted = useRef(false)
  useEffect(() => {
    if (booted.current) return
    booted.current = true
    readSharedHash().then(
      (shared) => {
        if (shared !== undefined) {
          setCode(shared.code)
          setStoreId(shared.storeId)
          setPreset('custom')
          setFromLink(true)
          history.replaceState(null, '', location.pathname + location.search)
          return
        }
        const saved = loadSaved()
        if (saved !== undefined) {
          setCode(saved.code)
          setStoreId(saved.storeId)
          setPreset(saved.preset)
          run(saved.code, saved.storeId, saved.preset)
        } else run(first.code, defaultStoreId(first.name), first.name)
      },
      (e: unknown) => {
        setNotice((e as Error).message)
        run(first.code, defaultStoreId(first.name), first.name)
      },
    )
  }, [run, first])

  useEffect(() => {
    document.documentElement.dataset.theme = dark ? 'dark' : 'light'
    localStorage.setItem(`${SAVED}-theme`, dark ? 'dark' : 'light')
  }, [dark])

  const client = ws.clients.find((c) => c.name === active) ?? ws.clients[0]
  const ready = client !== undefined && !ws.busy
  // the editor's chunk (CodeMirror) loads once the first client is open: on two cores its parsing
  // would delay the client's worker; a shared link, an error or 2.5 s load it anyway, as does a click
  const [editorWanted, setEditorWanted] = useState(false)
  useEffect(() => {
    if (editorWanted) return
    if (ready || fromLink || problem !== undefined || ws.error !== undefined) return setEditorWanted(true)
    const timer = setTimeout(() => setEditorWanted(true), 2_500)
    return () => clearTimeout(timer)
  }, [editorWanted, ready, fromLink, problem, ws.error])
  useEffect(() => {
    if (ready && document.body.dataset.ready !== 'true') {
      document.body.dataset.ready = 'true'
      performance.mark('cairn-playground-ready')
    }
  }, [ready])

  const nameOf = useMemo(() => {
    const names = new Map(ws.clients.map((c) => [c.store.clientId, c.name]))
    return (clientId: string) => names.get(clientId) ?? clientId
  }, [ws.clients])

  const pickPreset = (name: string) => {
    const p = PRESETS.find((x) => x.name === name)
    if (p === undefined) return
    setPreset(p.name)
    setCode(p.code)
    setStoreId(defaultStoreId(p.name))
    run(p.code, defaultStoreId(p.name), p.name)
  }

  const edit = (text: string) => {
    setCode(text)
    if (PRESETS.find((p) => p.name === preset)?.code !== text) setPreset('custom')
  }

  const share = async () => {
    const url = await shareUrl({ code, storeId })
    setShareLink(url)
    navigator.clipboard.writeText(url).then(
      () => setNotice('Link copied. Whoever opens it sees this schema; it runs when they press Run.'),
      // no clipboard permission (an insecure origin, a headless browser): the link is shown to copy by hand
      (e: unknown) => setNotice(`Copy the link below (${(e as Error)?.message ?? 'no clipboard'}).`),
    )
  }

  const onKey = (e: KeyboardEvent) => {
    if (e.altKey && !e.ctrlKey && !e.metaKey && /^Digit[1-6]$/.test(e.code)) {
      e.preventDefault()
      setTab(TABS[Number(e.code.slice(5)) - 1]!)
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
      e.preventDefault()
      run(code, storeId, preset)
    }
  }

  const modified = ranCode !== undefined && ranCode !== code
  return (
    <div className="app" onKeyDown={onKey}>
      <header className="topbar">
        <h1>
          <span className="logo" aria-hidden>
            ◭
          </span>{' '}
          Cairn playground
        </h1>
        <label>
          preset{' '}
          <select value={preset} onChange={(e) => pickPreset(e.target.value)} data-testid="preset">
            {PRESETS.map((p) => (
              <option key={p.name} value={p.name}>
                {p.title}
              </option>
            ))}
            <option value="custom" disabled>
              (edited)
            </option>
          </select>
        </label>
        <label>
          store{' '}
          <input className="mono store-id" value={storeId} onChange={(e) => setStoreId(e.target.value.replace(/[^\w.-]/g, ''))} aria-label="Store id" data-testid="store-id" />
        </label>
        <button className="primary" onClick={() => run(code, storeId, preset)} data-testid="run" title="Run the schema (Ctrl+Enter)">
          ▶ Run <kbd>Ctrl+Enter</kbd>
        </button>
        <button onClick={() => void share()} data-testid="share">
          Share
        </button>
        <span className="spacer" />
        <label>
          client{' '}
          <select value={client?.name ?? active} onChange={(e) => setActive(e.target.value)} data-testid="active-client">
            {ws.clients.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name} · {c.store.clientId}
              </option>
            ))}
          </select>
        </label>
        <button onClick={() => setShowEditor((s) => !s)} aria-pressed={showEditor} title="Show or hide the schema editor">
          {showEditor ? 'Hide editor' : 'Show editor'}
        </button>
        <button onClick={() => setDark((d) => !d)} aria-label="Toggle dark mode" data-testid="theme">
          {dark ? '☀' : '☾'}
        </button>
      </header>
      {fromLink ? (
        <div className="banner warn" role="alert" data-testid="shared-banner">
          This schema came from a shared link and has not run. Read it, then press <b>Run</b>.
        </div>
      ) : null}
      {notice !== undefined ? (
        <div className="banner" role="status">
          {notice}{' '}
          {shareLink !== undefined ? <input className="mono share-url" readOnly value={shareLink} onFocus={(e) => e.target.select()} aria-label="Share link" data-testid="share-url" /> : null}
          <button className="ghost" onClick={() => (setNotice(undefined), setShareLink(undefined))} aria-label="Dismiss">
            ×
          </button>
        </div>
      ) : null}
      {ws.error !== undefined ? (
        <div className="banner error" role="alert">
          {ws.error}
        </div>
      ) : null}
      <main className={showEditor ? 'split' : 'split no-editor'}>
        {showEditor ? (
          <section className="editor-pane" aria-label="Schema">
            <div className="pane-head">
              <span className="mono small">schema.ts</span>
              {modified ? <span className="tag">edited, not run</span> : null}
              <span className="spacer" />
              <span className="muted small">imports: @cairn/core, zod</span>
            </div>
            {editorWanted ? (
              <Suspense fallback={<pre className="editor mono editor-loading">{code}</pre>}>
                <SchemaEditor value={code} onChange={edit} onRun={() => run(code, storeId, 'custom')} problem={problem} dark={dark} />
              </Suspense>
            ) : (
              <pre className="editor mono editor-loading" onPointerDown={() => setEditorWanted(true)} onFocus={() => setEditorWanted(true)} tabIndex={0}>
                {code}
              </pre>
            )}
            {problem !== undefined ? (
              <div className="problem" role="alert" data-testid="schema-error">
                {problem.line !== undefined ? <span className="mono">line {problem.line}: </span> : null}
                {problem.message}
              </div>
            ) : null}
          </section>
        ) : null}
        <section className="views">
          <nav className="tabs" role="tablist" aria-label="Views">
            {TABS.map((t, i) => (
              <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? 'active' : ''} onClick={() => setTab(t)} title={`Alt+${i + 1}`} data-testid={`tab-${t}`}>
                {t}
              </button>
            ))}
          </nav>
          {client === undefined ? (
            <div className="view" role="tabpanel" aria-label={tab}>
              <p className="empty">{fromLink ? 'Press Run to start the clients on this schema.' : ws.busy ? 'Starting the clients…' : 'No clients running.'}</p>
            </div>
          ) : (
            // views stay mounted once shown, so queries stay live (and count their runs) on every tab
            <StoreProvider key={`${client.name}:${client.store.clientId}`} store={client.store}>
              {TABS.filter((t) => t === tab || visited.has(t)).map((t) => (
                <div key={t} className="view" role="tabpanel" aria-label={t} hidden={t !== tab}>
                  <ViewBoundary name={t} store={client.store}>
                    {t === 'Commit' ? <CommitView store={client.store} clientName={client.name} /> : null}
                    {t === 'Tables' ? <TablesView store={client.store} /> : null}
                    {t === 'Queries' ? <QueriesView store={client.store} queries={queries} onChange={setQueries} /> : null}
                    {t === 'Eventlog' ? <EventlogView store={client.store} nameOf={nameOf} /> : null}
                    {t === 'Devtools' ? <DevtoolsView store={client.store} /> : null}
                    {t === 'Clients' ? (
                      <ClientsView
                        clients={ws.clients}
                        nameOf={nameOf}
                        onOnline={(name, online) => workspace.setOnline(name, online)}
                        onAdd={(transport) => void workspace.addClient(transport)}
                        onRemove={() => void workspace.removeClient()}
                        onReset={(name) => void workspace.resetClient(name)}
                      />
                    ) : null}
                  </ViewBoundary>
                </div>
              ))}
            </StoreProvider>
          )}
        </section>
      </main>
    </div>
  )
}
