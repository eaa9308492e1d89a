// What the key ring asks of a place that holds keys (the token, the software store).
import type { Signer } from '../jose/signer';
import type { StoredKey } from '../store/key-store';
import type { KeyEntry, KeyLocation, KeyProblem } from './key-entry';
import type { Lifecycle } from './lifecycle';

export interface SetReading {
  /** Keys that could be read, whatever their state. */
  entries: KeyEntry[];
  /** Keys or objects that exist but could not be made into entries. */
  problems: KeyProblem[];
}

/** What a key is made with: a stored key's fields, without its material. */
/**
 * A key to make. With `thumbprintKid`, `kid` is provisional: the key gets its RFC 7638 thumbprint
 * as kid once it exists (the entry returned has it).
 */
export type NewKey = Omit<StoredKey, 'privateJwk'> & { thumbprintKid?: boolean };

export interface KeySource {
  readonly where: KeyLocation;
  /** Everything this source holds for `set`. Throws when the source cannot be read at all (fail closed). */
  read(set: string): Promise<SetReading>;
  /** Names of the sets this source holds keys (or problems) for. */
  sets(): Promise<string[]>;
  /** For each kid, the sets in which this source holds a key with it (kids held nowhere are absent). */
  setsWithKids(kids: readonly string[]): Promise<Map<string, string[]>>;
  /** Makes a key; all or nothing. Progress of long work goes to `onProgress`. */
  generate(key: NewKey, onProgress?: (message: string) => void): Promise<KeyEntry>;
  delete(entry: KeyEntry): Promise<void>;
  setLifecycle(entry: KeyEntry, lifecycle: Lifecycle): Promise<void>;
  signer(entry: KeyEntry): Signer;
  stats(): Record<string, number>;
  close(): Promise<void>;
}
