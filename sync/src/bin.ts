#!/usr/bin/env node
// The `cairn-sync` command (package.json "bin" points at the built dist/bin.js, plain Node).
import { main } from './cli.ts'

process.exitCode = await main(process.argv.slice(2))
