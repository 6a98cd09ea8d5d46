// `/checkstack …`: acks at once, parses the text, and hands the parsed command to its subcommand handler.
import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { Deps } from '../src/deps.js';
import { parseCommand, type Command, type CommandKind } from '../src/domain/command-grammar.js';
import { AppError } from '../src/errors.js';
import { acknowledge, fitReply, runInteraction, type EphemeralReply, type InteractionResult } from '../src/slack/interaction.js';
import { CLICK_REFUSALS, unavailableSubcommandRefusal } from '../src/slack/click-refusals.js';

export interface CommandContext<K extends CommandKind = CommandKind> {
  command: Extract<Command, { kind: K }>;
  userId: string;
  channelId: string;
  /** The workspace's subdomain, for thread permalinks. */
  teamDomain: string | null;
  /** An ephemeral answer to the user who typed the command. */
  reply(message: EphemeralReply): Promise<void>;
}

export type SubcommandHandler<K extends CommandKind> = (ctx: CommandContext<K>) => Promise<InteractionResult | void>;
export type SubcommandHandlers = { [K in CommandKind]?: SubcommandHandler<K> };

/**
 * Keeps the audit row small and free of control characters when the typed text is hostile. Cut on code points and
 * with lone surrogates replaced: Postgres refuses such JSON, and the audit row would be lost.
 */
function auditText(text: string): string {
  const cut = Array.from(text.slice(0, 400)).slice(0, 200).join('');
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\p{Cs}/gu, '\ufffd');
}

export function checkstackCommand(deps: Deps, subcommands: SubcommandHandlers) {
  return async ({ command, ack, respond, context }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    await acknowledge(deps, 'command', () => ack(), context);
    const reply = async (raw: EphemeralReply) => {
      const message = fitReply(raw, deps.logger);
      await respond({ response_type: 'ephemeral', replace_original: false, text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) });
    };
    let action = 'unknown';
    await runInteraction(
      deps,
      {
        kind: 'command',
        get action() {
          return action;
        },
        userId: command.user_id,
        channelId: command.channel_id,
        // A signed request could still repeat `text` (Bolt then hands over an array): never let that throw here.
        detail: { text: auditText(typeof command.text === 'string' ? command.text : '') },
        reply,
      },
      async () => {
        if (command.text !== undefined && typeof command.text !== 'string') {
          throw new AppError('invalid_input', CLICK_REFUSALS.unreadableCommand);
        }
        const parsed = parseCommand(command.text ?? '');
        action = parsed.kind;
        const handler = subcommands[parsed.kind] as SubcommandHandler<typeof parsed.kind> | undefined;
        if (!handler) throw new AppError('unknown_subcommand', unavailableSubcommandRefusal(parsed.kind));
        return handler({ command: parsed, userId: command.user_id, channelId: command.channel_id, teamDomain: command.team_domain || null, reply });
      },
    );
  };
}
