// `npm start`: until the playground exists, this walks through a store in the terminal.
import { quickstart } from './quickstart.ts'

await quickstart((line) => console.log(line))
