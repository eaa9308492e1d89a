// Data objects (CKO_DATA token objects): an application's own records on the token, named by
// CKA_APPLICATION and CKA_LABEL, holding CKA_VALUE. A DataObject carries its handle of one module
// generation; after a re-initialisation (or when the handle went stale) it is found again by what it
// is (class, application, label, value), and refused when that no longer names exactly one object.
import { CKA, CKO } from './constants';
import { invalidArgType, invalidArgValue } from '../errors';
import { DataObjectAmbiguousError, DataObjectGoneError, Pkcs11Error } from './errors';
import { KeyReader, MAX_OBJECTS } from './key-reader';
import type { NativeModule, NativeTemplate } from '../../binding';

/** What createDataObject makes. */
export interface DataObjectSpec {
  /** CKA_LABEL. */
  label: string;
  /** CKA_APPLICATION: whose record it is (findDataObjects searches by it). */
  application: string;
  /** CKA_VALUE. */
  value: Uint8Array;
  /** CKA_PRIVATE (default true): readable only after a login. */
  private?: boolean;
}

export interface DataObjectQuery {
  application: string;
  label?: string;
}

/** A CKO_DATA object on the token, as created or found (handles are kept by the Token). */
export class DataObject {
  readonly label: string;
  readonly application: string;
  readonly value: Buffer;

  /** @internal Made by Token.createDataObject and Token.findDataObjects. */
  constructor(label: string, application: string, value: Buffer) {
    this.label = label;
    this.application = application;
    this.value = value;
  }
}

/** Values of a larger CKA_VALUE are refused before the token is asked. */
const MAX_VALUE_BYTES = 1 << 20;
const VALUE_ATTRIBUTES = [CKA.LABEL, CKA.APPLICATION, CKA.VALUE];

export function checkDataObjectSpec(spec: unknown): Required<DataObjectSpec> & { value: Buffer } {
  if (typeof spec !== 'object' || spec === null) throw invalidArgType('spec', 'an object', spec);
  const s = spec as { label?: unknown; application?: unknown; value?: unknown; private?: unknown };
  checkName('spec.label', s.label);
  checkName('spec.application', s.application);
  if (!(s.value instanceof Uint8Array)) throw invalidArgType('spec.value', 'a Buffer or Uint8Array', s.value);
  if (s.value.length > MAX_VALUE_BYTES)
    throw invalidArgValue('spec.value', `at most ${MAX_VALUE_BYTES} bytes`, s.value);
  if (s.private !== undefined && typeof s.private !== 'boolean')
    throw invalidArgType('spec.private', 'a boolean', s.private);
  return {
    label: s.label as string,
    application: s.application as string,
    value: Buffer.from(s.value),
    private: s.private ?? true,
  };
}

export function checkDataObjectQuery(query: unknown): DataObjectQuery {
  if (typeof query !== 'object' || query === null) throw invalidArgType('query', 'an object', query);
  const q = query as { application?: unknown; label?: unknown };
  checkName('query.application', q.application);
  if (q.label !== undefined && typeof q.label !== 'string') throw invalidArgType('query.label', 'a string', q.label);
  return q.label === undefined
    ? { application: q.application as string }
    : { application: q.application as string, label: q.label };
}

export function checkDataObject(o: unknown): asserts o is DataObject {
  if (!(o instanceof DataObject))
    throw invalidArgType('object', 'a DataObject from createDataObject or findDataObjects', o);
}

function checkName(name: string, v: unknown): void {
  if (typeof v !== 'string') throw invalidArgType(name, 'a string', v);
  if (v.length === 0) throw invalidArgValue(name, 'a non-empty string', v);
}

/** Data-object calls through one session that the caller holds for the whole operation. */
export class DataObjectReader {
  constructor(
    private readonly native: NativeModule,
    private readonly session: bigint,
  ) {}

  /** C_CreateObject: a token object, modifiable, private unless asked otherwise. */
  async create(s: Required<DataObjectSpec>): Promise<bigint> {
    const template: NativeTemplate = [
      [CKA.CLASS, CKO.DATA],
      [CKA.TOKEN, true],
      [CKA.PRIVATE, s.private],
      [CKA.MODIFIABLE, true],
      [CKA.LABEL, s.label],
      [CKA.APPLICATION, s.application],
      [CKA.VALUE, s.value],
    ];
    return this.native.createObject(this.session, template);
  }

  /** Token data objects of the application (and label), with their values. */
  async find(q: DataObjectQuery): Promise<Array<{ handle: bigint; object: DataObject }>> {
    const template: NativeTemplate = [
      [CKA.CLASS, CKO.DATA],
      [CKA.TOKEN, true],
      [CKA.APPLICATION, q.application],
      ...(q.label === undefined ? [] : ([[CKA.LABEL, q.label]] as const)),
    ];
    const out: Array<{ handle: bigint; object: DataObject }> = [];
    for (const handle of await this.native.findObjects(this.session, template, MAX_OBJECTS)) {
      const a = await new KeyReader(this.native, this.session).attributesIfPresent(handle, VALUE_ATTRIBUTES);
      if (!a) continue; // destroyed since the search found it
      // A value the token does not report reads as empty (CKA_VALUE defaults to empty for CKO_DATA).
      const object = new DataObject(
        a.string(CKA.LABEL) ?? q.label ?? '',
        a.string(CKA.APPLICATION) ?? q.application,
        a.bytes(CKA.VALUE) ?? Buffer.alloc(0),
      );
      out.push({ handle, object });
    }
    return out;
  }

  /** The one object with this identity; ERR_DATA_OBJECT_GONE or ERR_DATA_OBJECT_AMBIGUOUS otherwise. */
  async lookUp(identity: DataObject): Promise<bigint> {
    const same = (await this.find({ application: identity.application, label: identity.label })).filter(
      (f) => f.object.label === identity.label && f.object.value.equals(identity.value),
    );
    if (same.length === 0) throw new DataObjectGoneError(identity.application, identity.label);
    if (same.length > 1) throw new DataObjectAmbiguousError(identity.application, identity.label, same.length);
    return same[0]!.handle;
  }

  async destroy(handle: bigint): Promise<void> {
    await this.native.destroyObject(this.session, handle);
  }
}

/**
 * Which handle a DataObject stands for, per Token: the handle it was made or found with, valid in
 * that connection generation only, and a copy of its identity (the caller may change `value` in place).
 */
export class DataObjectHandles {
  readonly #known = new WeakMap<DataObject, { handle: bigint; generation: number; identity: DataObject }>();
  readonly #destroyed = new WeakSet<DataObject>();

  /** Records that `o` was made or found by this Token as `handle` in `generation`. */
  note(o: DataObject, handle: bigint, generation: number): DataObject {
    this.#known.set(o, { handle, generation, identity: new DataObject(o.label, o.application, Buffer.from(o.value)) });
    return o;
  }

  /**
   * Destroys the object `o` stands for: by its handle when that is of `generation`, else (and when the
   * handle turns out stale) by finding it again. Never retried, never twice: a DataObject this
   * Token destroyed is gone (ERR_DATA_OBJECT_GONE) even when an identical object is still there.
   */
  async destroy(o: DataObject, reader: DataObjectReader, generation: number): Promise<void> {
    const known = this.#known.get(o);
    const identity = known?.identity ?? o;
    if (this.#destroyed.has(o)) throw new DataObjectGoneError(identity.application, identity.label);
    const handle =
      known !== undefined && known.generation === generation ? known.handle : await reader.lookUp(identity);
    try {
      await reader.destroy(handle);
    } catch (e) {
      if (!(e instanceof Pkcs11Error && e.category === 'object-stale')) throw e;
      await reader.destroy(await reader.lookUp(identity)); // the handle went stale under us: find it again
    }
    this.#destroyed.add(o);
    this.#known.delete(o);
  }
}
