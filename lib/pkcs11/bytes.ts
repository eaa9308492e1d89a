// Big-endian unsigned integers as byte strings (RSA moduli, exponents).

/** The integer without its leading zero bytes (one byte is kept for zero). */
export function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** Number of significant bits. */
export function bitLength(b: Uint8Array): number {
  const v = stripLeadingZeros(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  if (v.length === 0 || (v.length === 1 && v[0] === 0)) return 0;
  return (v.length - 1) * 8 + (32 - Math.clz32(v[0]!));
}
