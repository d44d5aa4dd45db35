import { SqliteDb } from '@cairn/core'
import { createRoot } from 'react-dom/client'
import { App } from './app.tsx'
import { Workspace } from './workspace.ts'
import './styles.css'

// start fetching and compiling sqlite's wasm now, while React renders: every client's store needs it
SqliteDb.open().then(
  (db) => db.close(),
  (e: unknown) => console.error('SQLite could not start:', e),
)

// the sync server shares the page's origin: `npm start` serves both on one port
const workspace = new Workspace(new URL('sync', location.href), (e) => console.error(e))
createRoot(document.getElementById('root')!).render(<App workspace={workspace} />)
