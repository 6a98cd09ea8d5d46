// Where a bench bot's log goes: JSON written as production writes it to stdout (pino's synchronous file
// destination), but to /dev/null, so a long run neither piles lines up in memory (as the tests' LogCapture does)
// nor floods the bench's output.
import { pino } from 'pino';

export function benchLogDestination() {
  return pino.destination({ dest: process.env.BENCH_LOG_FILE ?? '/dev/null', sync: true });
}
