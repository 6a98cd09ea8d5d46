// The arguments every per-target CLI command takes: `[--target NAME | -t NAME | --target=NAME] [--json]`.
export type TargetArgs = { target: string | undefined; json: boolean } | { problem: string };

export function parseTargetArgs(args: string[]): TargetArgs {
  let target: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--target' || arg === '-t') {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('-')) return { problem: '`--target` needs a target name.' };
      target = value;
      i += 1;
    } else if (arg.startsWith('--target=')) {
      target = arg.slice('--target='.length);
      if (!target) return { problem: '`--target` needs a target name.' };
    } else return { problem: `Unknown argument \`${arg}\`.` };
  }
  return { target, json };
}
