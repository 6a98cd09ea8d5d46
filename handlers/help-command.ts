// `/checkstack help`: the command grammar, to the user who asked.
import { COMMAND_GRAMMAR } from '../src/domain/command-grammar.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function helpCommand(): SubcommandHandler<'help'> {
  return async ({ reply }) => {
    await reply({ text: COMMAND_GRAMMAR });
  };
}
