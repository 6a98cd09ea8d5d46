/** "1 warning", "3 warnings", "2 fatal" (with `many` given). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
