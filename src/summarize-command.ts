// `checkstack-chatops summarize FILE|- [--json]`: the summaries the bot would post, from a "list releases" JSON array.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { summarizeReleases } from './domain/release-summary.js';
import { formatSummaryText } from './domain/release-summary-text.js';

const releaseList = z.array(
  z.looseObject({
    id: z.number(),
    tag_name: z.string(),
    name: z.string().nullable().default(null),
    body: z.string().nullable().default(null),
    draft: z.boolean().default(false),
    prerelease: z.boolean().default(false),
    published_at: z.string().nullable().default(null),
    html_url: z.string(),
  }),
);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runSummarize(args: string[], io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<number> {
  const json = args.includes('--json');
  const files = args.filter((a) => a !== '--json');
  if (files.length !== 1 || files[0]?.startsWith('--')) {
    io.err.write('Usage: checkstack-chatops summarize FILE|- [--json]\n');
    return 2;
  }
  const file = files[0]!;
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    io.err.write(`Cannot read ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    io.err.write(`${file} is not valid JSON: ${(err as Error).message}\n`);
    return 1;
  }
  const parsed = releaseList.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    io.err.write(`${file} is not a GitHub "list releases" array: ${issue?.path.join('.') || '(top level)'}: ${issue?.message}\n`);
    return 1;
  }
  const summaries = summarizeReleases(parsed.data);
  io.out.write(json ? `${JSON.stringify(summaries, null, 2)}\n` : `${formatSummaryText(summaries)}\n`);
  return 0;
}
