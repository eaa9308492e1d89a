// One object's attributes as C_GetAttributeValue read them: a value by type, or nothing when the
// attribute was absent, sensitive or of another kind.
import type { NativeAttributeReading } from '../../binding';

type Value = boolean | number | string | Buffer | number[];

export class Attributes {
  readonly #values = new Map<number, Value>();
  constructor(readings: NativeAttributeReading[]) {
    for (const r of readings) if ('value' in r) this.#values.set(r.type, r.value);
  }
  bytes(type: number): Buffer | undefined {
    const v = this.#values.get(type);
    return Buffer.isBuffer(v) ? v : undefined;
  }
  /** A byte string, or undefined when it is absent or empty (tokens report "none" both ways). */
  nonEmptyBytes(type: number): Buffer | undefined {
    const v = this.bytes(type);
    return v && v.length > 0 ? v : undefined;
  }
  bool(type: number): boolean {
    return this.#values.get(type) === true;
  }
  number(type: number): number | undefined {
    const v = this.#values.get(type);
    return typeof v === 'number' ? v : undefined;
  }
  numbers(type: number): number[] | undefined {
    const v = this.#values.get(type);
    return Array.isArray(v) ? v : undefined;
  }
  string(type: number): string | undefined {
    const v = this.#values.get(type);
    return typeof v === 'string' ? v : undefined;
  }
}
