// Types of secret-leak-reporter.js (JavaScript, because jest loads reporters without compiling them).
declare class SecretLeakReporter {
  constructor(globalConfig: { rootDir: string });
  onRunStart(): void;
  onRunComplete(contexts: unknown, results: { testResults: SecretLeakReporter.FileResult[] }): void;
  getLastError(): Error | undefined;
  /** The check itself, on a collection directory and jest's results of the test files. */
  static checkRun(
    dir: string | undefined,
    testResults: readonly SecretLeakReporter.FileResult[],
    rootDir: string,
  ): { summary: string; problems: string[] };
  /** What the reporter records of jest's result for one test file (console output, test failures). */
  static recordsOf(result: SecretLeakReporter.FileResult): object[];
}
declare namespace SecretLeakReporter {
  /** What the check reads of jest's result for one test file. */
  interface FileResult {
    testFilePath: string;
    numPassingTests: number;
    numFailingTests: number;
    numPendingTests: number;
    numTodoTests: number;
    console?: ReadonlyArray<{ type: string; message: string }> | undefined;
    testExecError?: unknown;
    testResults: ReadonlyArray<{ fullName: string; failureMessages: string[]; failureDetails: unknown[] }>;
  }
}
export = SecretLeakReporter;
