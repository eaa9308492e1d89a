'use strict';
// Holds an SQLite file's write lock from another process, for store-busy*.test.ts:
//   node lock-holder.js <file> <holdMs>
// opens <file> (an existing store), runs BEGIN IMMEDIATE, prints "locked", and holds the lock
// until a line "release" arrives on stdin or <holdMs> ms pass (so it can never hang a test); then
// commits, prints "released" and exits 0.
const Database = require('better-sqlite3');

const [file, holdMs] = process.argv.slice(2);
const db = new Database(file, { fileMustExist: true });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');

let done = false;
function release() {
  if (done) return;
  done = true;
  db.exec('COMMIT');
  db.close();
  process.stdout.write('released\n');
  process.exit(0);
}
setTimeout(release, Number(holdMs));
let input = '';
process.stdin.on('data', (d) => {
  input += d.toString();
  if (input.split('\n').includes('release')) release();
});
