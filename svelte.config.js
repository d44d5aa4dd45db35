// svelte-check (npm run typecheck) reads this; without it, it looks for a Svelte plugin in
// vite.config.ts, which builds the playground (React) and has none. Defaults are all we use.
export default {}
