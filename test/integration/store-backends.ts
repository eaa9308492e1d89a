// The store's backends for the contract tests: one describe per backend (SQLite always;
// PostgreSQL when a server answers, see describePostgres), each giving a fresh empty database per
// test, raw SQL on it (`?` placeholders on both), and stores that are closed after each test.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { Client } from 'pg';

import type { KeyStore } from '../../lib/store/key-store';
import { openKeyStore, type StoreOptions } from '../../lib/store/open-store';
import { describePostgres, postgresSchema } from '../helpers/postgres';
import { SECRET_OLD } from './store-helpers';

export interface Backend {
  readonly name: 'SQLite' | 'PostgreSQL';
  /** The DSN of the current test's database (made afresh before each test). */
  readonly dsn: string;
  /** Opens a store on the current database; closed after the test. */
  open(secrets?: readonly string[], options?: StoreOptions): KeyStore;
  /** Runs SQL on the current database outside any store; returns the rows of a query. */
  sql<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

abstract class BaseBackend implements Backend {
  abstract readonly name: 'SQLite' | 'PostgreSQL';
  abstract readonly dsn: string;
  readonly #stores: KeyStore[] = [];

  constructor() {
    afterEach(async () => {
      await Promise.all(this.#stores.splice(0).map((s) => s.close()));
    });
  }

  open(secrets: readonly string[] = [SECRET_OLD], options?: StoreOptions): KeyStore {
    const store = openKeyStore(this.dsn, secrets, options);
    this.#stores.push(store);
    return store;
  }

  abstract sql<R>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

class SqliteBackend extends BaseBackend {
  readonly name = 'SQLite';
  #dir = '';
  #file = '';
  #n = 0;

  constructor() {
    super();
    beforeAll(() => {
      this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-store-contract-'));
    });
    beforeEach(() => {
      this.#file = path.join(this.#dir, `test-${++this.#n}.sqlite`);
    });
    afterAll(() => fs.rmSync(this.#dir, { recursive: true, force: true }));
  }

  get dsn(): string {
    return `sqlite://${this.#file}`;
  }

  async sql<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    const db = new Database(this.#file);
    try {
      const s = db.prepare(text);
      if (s.reader) return s.all(...params) as R[];
      s.run(...params);
      return [];
    } finally {
      db.close();
    }
  }
}

class PostgresBackend extends BaseBackend {
  readonly name = 'PostgreSQL';
  #dsn = '';

  constructor(schema: string) {
    super();
    beforeEach(async () => {
      const { dsn, why } = await postgresSchema(schema, 'a PostgreSQL store test');
      if (!dsn) throw new Error(`the schema for the test could not be made: ${why}`);
      this.#dsn = dsn;
    });
  }

  get dsn(): string {
    return this.#dsn;
  }

  async sql<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    let n = 0;
    const c = new Client({ connectionString: this.#dsn });
    await c.connect();
    try {
      return (
        await c.query(
          text.replace(/\?/g, () => `$${++n}`),
          [...params],
        )
      ).rows as R[];
    } finally {
      await c.end();
    }
  }
}

/** Declares `suite` once per backend; `schema` names this file's PostgreSQL schema. */
export function describeBackends(title: string, schema: string, suite: (b: Backend) => void): void {
  describe(`${title} on SQLite`, () => suite(new SqliteBackend()));
  describePostgres(`${title} on PostgreSQL`, () => suite(new PostgresBackend(schema)));
}
