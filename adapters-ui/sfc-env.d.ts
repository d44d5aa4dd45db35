// tsc checks .ts/.tsx only; single-file components are compiled and checked by their Vite
// plugins (in the adapter tests and the example builds). These declarations type their imports.
declare module '*.svelte' {
  import type { Component } from 'svelte'
  const component: Component<any>
  export default component
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent
  export default component
}
