import { useEffect, useState } from 'react'

/** Re-renders every `ms` while mounted: for numbers that change without telling (run counts). */
export function useTicker(ms: number): number {
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), ms)
    return () => clearInterval(timer)
  }, [ms])
  return tick
}
