// Types of secret-finder.js (JavaScript, because jest loads reporters without compiling them).
export declare const MIN_SECRET_LENGTH: number;
export interface Form {
  name: string;
  needle: string;
  within?: RegExp;
  numeric?: boolean;
}
export declare function formsOf(value: string): Form[];
export declare function findSecret(
  text: string,
  value: string,
): { form: string; index: number; length: number } | undefined;
export declare function maskSecrets(text: string, secrets: ReadonlyArray<{ label: string; value: string }>): string;
