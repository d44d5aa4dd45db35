import { storePlugin, useClientDocument, useQuery, useSyncStatus, provideStore } from '@cairn/vue'
import type { Def } from '@cairn/core'
import { render } from '@testing-library/vue'
import { describe, expect, it } from 'vitest'
import { createSSRApp, defineComponent, h, nextTick, onErrorCaptured, shallowRef, type PropType, type WritableComputedRef } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { behaviourSuite, type Harness } from './behaviour.ts'
import { events, makeStore, notes$, show, tables, texts$ } from './fixtures.ts'

const Boundary = defineComponent({
  props: { id: { type: String, required: true } },
  setup(props, { slots }) {
    const error = shallowRef<unknown>()
    onErrorCaptured((e) => {
      error.value = e
      return false // handled: shown here
    })
    return () =>
      error.value === undefined ? slots.default?.() : h('p', { 'data-testid': props.id }, `error: ${(error.value as Error).message}`)
  },
})

const harness: Harness = {
  name: 'vue',
  async mount(store, views) {
    const renders = views.map((): unknown[] => [])
    const documents: Record<string, WritableComputedRef<unknown>>[] = []
    const defs = shallowRef(views.map((v) => ('query' in v ? v.query : undefined)))
    const shown = (i: number, value: unknown) => (renders[i]!.push(value), h('p', { 'data-testid': `view-${i}` }, show(value)))

    const QueryView = defineComponent({
      props: { i: { type: Number, required: true }, def: { type: Object as PropType<Def<unknown>>, required: true } },
      setup(props) {
        const value = useQuery(() => props.def)
        return () => shown(props.i, value.value)
      },
    })
    const DocumentView = defineComponent({
      props: { i: { type: Number, required: true }, keys: { type: Array as PropType<string[]>, required: true } },
      setup(props) {
        const spec = views[props.i] as { document: Parameters<typeof useClientDocument>[0] }
        const fields = useClientDocument(spec.document) as Record<string, WritableComputedRef<unknown>>
        documents[props.i] = fields
        return () => shown(props.i, Object.fromEntries(props.keys.map((k) => [k, fields[k]!.value])))
      },
    })
    const StatusView = defineComponent({
      props: { i: { type: Number, required: true } },
      setup(props) {
        const status = useSyncStatus()
        return () => shown(props.i, status.value)
      },
    })
    const Root = defineComponent({
      setup() {
        return () =>
          views.map((v, i) =>
            h(Boundary, { key: i, id: `view-${i}` }, () =>
              'query' in v
                ? h(QueryView, { i, def: defs.value[i]! })
                : 'document' in v
                  ? h(DocumentView, { i, keys: Object.keys(v.document.defaultValue as object) })
                  : h(StatusView, { i }),
            ),
          )
      },
    })
    const result = render(Root, { global: { plugins: [storePlugin(store)] } })
    return {
      renders: (i) => renders[i]!,
      text: (i) => result.getByTestId(`view-${i}`).textContent ?? '',
      async setQuery(i, def) {
        defs.value = defs.value.map((d, j) => (j === i ? def : d))
        await nextTick()
      },
      async setDocument(i, update) {
        // Vue's idiom: assign the fields (v-model does the same)
        const fields = documents[i]!
        const keys = Object.keys((views[i] as { document: { defaultValue: object } }).document.defaultValue)
        const current = Object.fromEntries(keys.map((k) => [k, fields[k]!.value]))
        const changes = typeof update === 'function' ? update(current) : update
        for (const [key, value] of Object.entries(changes)) fields[key]!.value = value
        await nextTick()
      },
      unmount: () => result.unmount(),
    }
  },
  async act(fn) {
    await fn()
    await nextTick()
  },
}

behaviourSuite(harness)

describe('vue: SSR', () => {
  it('renders the current result on the server and leaves no listener behind', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    const Texts = defineComponent({
      setup: () =>
        (
          (texts) => () =>
            h('p', show(texts.value))
        )(useQuery(texts$)),
    })
    const Root = defineComponent({ setup: () => (provideStore(store), () => h(Texts)) })
    for (let i = 0; i < 3; i++) expect(await renderToString(createSSRApp(Root))).toBe('<p>one</p>')
    // the server never disposes a component's scope: a listener made there would stay for good
    expect(store.inspect().filter((i) => i.label === 'texts')).toEqual([])
    await store.shutdown()
  })
})

describe('vue: provideStore and disposal', () => {
  it('provides the store to a subtree and releases queries when the effect scope stops', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    const Child = defineComponent({
      setup: () => {
        const texts = useQuery(texts$)
        return () => h('p', show(texts.value))
      },
    })
    const Parent = defineComponent({ setup: () => (provideStore(store), () => h(Child)) })
    const view = render(Parent)
    expect(view.container.textContent).toBe('one')
    view.unmount()
    await Promise.resolve()
    expect(store.inspect().filter((i) => i.label === 'texts')).toEqual([])
    await store.shutdown()
  })

  it('follows a ref of a definition', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }), events.noteAdded({ id: 'n', body: 'note' }))
    const def = shallowRef<Def<unknown>>(texts$)
    const Texts = defineComponent({
      setup: () => {
        const rows = useQuery(def)
        return () => h('p', show(rows.value))
      },
    })
    const view = render(Texts, { global: { plugins: [storePlugin(store)] } })
    expect(view.container.textContent).toBe('one')
    def.value = notes$
    await nextTick()
    expect(view.container.textContent).toBe('note')
    view.unmount()
    await store.shutdown()
  })

  it('throws an actionable error without a provided store', () => {
    const Orphan = defineComponent({ setup: () => (useQuery(texts$), () => h('p')) })
    expect(() => render(Orphan)).toThrow(/call provideStore\(store\) in a parent component/)
  })
})

describe('vue: useClientDocument', () => {
  it('returns a plain object with a ref per field of the document: spreading it and Object.keys see every field', async () => {
    const store = await makeStore()
    let refs!: Record<string, WritableComputedRef<unknown>>
    const View = defineComponent({
      setup() {
        const { ...spread } = useClientDocument(tables.ui)
        refs = spread
        return () => h('p', { 'data-testid': 'doc' }, `${refs.filter!.value}/${refs.search!.value}`)
      },
    })
    const result = render(View, { global: { plugins: [storePlugin(store)] } })
    expect(Object.keys(refs).sort()).toEqual(['filter', 'search'])
    expect(result.getByTestId('doc').textContent).toBe('all/')
    refs.filter!.value = 'done'
    await nextTick()
    expect(result.getByTestId('doc').textContent).toBe('done/')
    result.unmount()
    await store.shutdown()
  })
})
