// A dedicated PostgreSQL connection that LISTENs for the store's change notifications and calls
// `signal` on each (and once right after LISTEN takes effect, for commits it could not hear
// before). A lost connection is dropped; ensure() (called by the watcher's timer) connects again.
// The socket is unref'd: listening never keeps the process alive.

/** The part of pg's Client used here. */
export interface PgListenClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  unref(): void;
  on(event: 'notification', listener: (n: { channel: string }) => void): unknown;
  on(event: 'error' | 'end', listener: () => void): unknown;
}

export const CHANGE_CHANNEL = 'hsm_jwks_changes';

export class PgListener {
  readonly #connect: () => PgListenClient;
  readonly #signal: () => void;
  #client: PgListenClient | undefined;
  #connecting = false;
  #stopped = false;

  constructor(connect: () => PgListenClient, signal: () => void) {
    this.#connect = connect;
    this.#signal = signal;
  }

  /** Connects and listens unless already connected, connecting, or stopped. */
  ensure(): void {
    if (this.#stopped || this.#client || this.#connecting) return;
    this.#connecting = true;
    const c = this.#connect();
    c.unref();
    const drop = () => {
      if (this.#client === c) this.#client = undefined;
      c.end().catch(() => undefined);
    };
    c.on('error', drop);
    c.on('end', drop);
    c.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL) this.#signal();
    });
    c.connect()
      .then(() => c.query(`LISTEN ${CHANGE_CHANNEL}`))
      .then(
        () => {
          this.#connecting = false;
          if (this.#stopped) return void c.end().catch(() => undefined);
          c.unref(); // again: a TLS connection replaces the socket unref'd above
          this.#client = c;
          this.#signal();
        },
        () => {
          this.#connecting = false;
          drop();
        },
      );
  }

  stop(): void {
    this.#stopped = true;
    const c = this.#client;
    this.#client = undefined;
    c?.end().catch(() => undefined);
  }
}
