import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete'
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { javascript } from '@codemirror/lang-javascript'
import { bracketMatching, defaultHighlightStyle, HighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language'
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint'
import { EditorState } from '@codemirror/state'
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view'
import { tags } from '@lezer/highlight'
import { useEffect, useRef } from 'react'
import type { SourceProblem } from './schema-eval.ts'

const darkHighlight = HighlightStyle.define(
  [
    { tag: tags.keyword, color: '#c792ea' },
    { tag: [tags.string, tags.special(tags.string)], color: '#c3e88d' },
    { tag: [tags.number, tags.bool, tags.null], color: '#f78c6c' },
    { tag: tags.comment, color: '#7f8aa3', fontStyle: 'italic' },
    { tag: [tags.propertyName, tags.definition(tags.variableName)], color: '#82aaff' },
    { tag: [tags.typeName, tags.className], color: '#ffcb6b' },
    { tag: tags.regexp, color: '#89ddff' },
  ],
  { themeType: 'dark' },
)

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px', backgroundColor: 'var(--panel)', color: 'var(--text)' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.55' },
  '.cm-gutters': { backgroundColor: 'var(--panel)', color: 'var(--muted)', border: 'none' },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'var(--hover)' },
  '&.cm-focused .cm-cursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground': { backgroundColor: 'var(--selection) !important' },
  '.cm-tooltip': { backgroundColor: 'var(--panel-2)', color: 'var(--text)', border: '1px solid var(--border)' },
})

/** Diagnostics for the editor: a problem without a line marks the first one. */
export function toDiagnostics(state: EditorState, problem: SourceProblem | undefined): Diagnostic[] {
  if (problem === undefined) return []
  const lineNo = Math.min(Math.max(problem.line ?? 1, 1), state.doc.lines)
  const line = state.doc.line(lineNo)
  const from = Math.min(line.from + Math.max((problem.column ?? 1) - 1, 0), line.to)
  return [{ from, to: Math.max(line.to, from), severity: 'error', message: problem.message }]
}

/**
 * The schema editor (CodeMirror 6, TypeScript mode). `onRun` is bound to Mod-Enter; problems
 * are shown at their line in the gutter and under the text.
 */
export function SchemaEditor(props: {
  readonly value: string
  readonly onChange: (value: string) => void
  readonly onRun: () => void
  readonly problem: SourceProblem | undefined
  readonly dark: boolean
}) {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | null>(null)
  const callbacks = useRef(props)
  callbacks.current = props

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          autocompletion(),
          highlightActiveLine(),
          lintGutter(),
          javascript({ typescript: true }),
          syntaxHighlighting(props.dark ? darkHighlight : defaultHighlightStyle, { fallback: true }),
          theme,
          EditorView.contentAttributes.of({ 'aria-label': 'Schema (TypeScript)' }),
          keymap.of([
            { key: 'Mod-Enter', run: () => (callbacks.current.onRun(), true) },
            ...closeBracketsKeymap,
            ...defaultKeymap,
            ...historyKeymap,
            ...completionKeymap,
            indentWithTab,
          ]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) callbacks.current.onChange(u.state.doc.toString())
          }),
        ],
      }),
    })
    view.current = v
    return () => v.destroy()
    // the editor is made once per theme; text changes flow in through the effect below
  }, [props.dark])

  useEffect(() => {
    const v = view.current
    if (v === null) return
    if (v.state.doc.toString() !== props.value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } })
  }, [props.value])

  useEffect(() => {
    const v = view.current
    if (v !== null) v.dispatch(setDiagnostics(v.state, toDiagnostics(v.state, props.problem)))
  }, [props.problem, props.dark])

  return <div className="editor" ref={host} data-testid="schema-editor" />
}
