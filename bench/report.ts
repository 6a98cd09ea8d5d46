// Collects the bench figures: prints each as `name: value unit` the moment it is measured, and writes them all to JSON.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export interface Report {
  add(name: string, value: number, unit: string): void;
  /** Context for the JSON file only (e.g. the reply text a server sent); never printed as a figure. */
  note(key: string, value: unknown): void;
  figures(): Figure[];
  write(path: string, meta: Record<string, unknown>): Promise<void>;
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  if (unit === 'count' || unit === 'chars' || Number.isInteger(value)) return String(value);
  return value >= 100 ? value.toFixed(1) : value.toFixed(value >= 1 ? 2 : 3);
}

export function createReport(print: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Report {
  const figures: Figure[] = [];
  const notes: Record<string, unknown> = {};
  return {
    add(name, value, unit) {
      figures.push({ name, value, unit });
      print(`${name}: ${formatValue(value, unit)} ${unit}`);
    },
    note(key, value) {
      notes[key] = value;
    },
    figures: () => [...figures],
    async write(path, meta) {
      const byName = Object.fromEntries(figures.map((f) => [f.name, { value: f.value, unit: f.unit }]));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, `${JSON.stringify({ ...meta, figures: byName, notes }, null, 2)}\n`);
    },
  };
}
