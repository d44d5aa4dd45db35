/**
 * Position of an event in the log: `global` is fixed by the server (gap-free per store), `client`
 * counts client-only events after that global event, `rebaseGeneration` counts how often this
 * client re-numbered pending events. Printed `e5`, `e5.1`, `e5r1`.
 */
export interface SeqNum {
  readonly global: number
  readonly client: number
  readonly rebaseGeneration: number
}

export const ROOT_SEQ: SeqNum = { global: 0, client: 0, rebaseGeneration: 0 }

export function formatSeqNum(s: SeqNum): string {
  return `e${s.global}${s.client > 0 ? `.${s.client}` : ''}${s.rebaseGeneration > 0 ? `r${s.rebaseGeneration}` : ''}`
}

/** Order of events in the log (rebase generation does not order, it only versions numbering). */
export function compareSeqNum(a: SeqNum, b: SeqNum): number {
  return a.global !== b.global ? a.global - b.global : a.client - b.client
}

/** The number after `head`: synced events take the next global, client-only the next client. */
export function nextSeqNum(head: SeqNum, clientOnly: boolean): SeqNum {
  return clientOnly
    ? { global: head.global, client: head.client + 1, rebaseGeneration: head.rebaseGeneration }
    : { global: head.global + 1, client: 0, rebaseGeneration: head.rebaseGeneration }
}
