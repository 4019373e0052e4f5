'use strict';
/*
 * Test-only, preloaded into a throwaway s3rver by test_s3rver_race.py ahead of everything else: a slow
 * disk, on which replacing an object's file (`<key>._S3rver_object`) takes SLOW_DISK_MS longer, and which
 * reports each such replacement on stderr (s3rver's log) once done: "slow disk: <file>: ok" or the error.
 *
 * An upload makes sure the key's folder exists, then creates the file in it. Slowing the second step
 * widens the window in which a racing delete can empty and remove the folder from microseconds to
 * SLOW_DISK_MS, so a delete sent right after the upload's answer lands in it every time instead of now
 * and then; the report tells the test when the outcome is known, without guessing a delay.
 * Both ways of creating the file are slowed: s3rver's own (a write stream, through fs.open, which
 * graceful-fs captures when it loads, hence "ahead of everything else") and the one of
 * devtools/local_services/s3rver_store_lock.js (fs.promises.writeFile).
 */

const fs = require('fs');

const SLOW_MS = Number(process.env.SLOW_DISK_MS);
if (!(SLOW_MS > 0)) throw new Error('s3rver_slow_disk.js: set SLOW_DISK_MS to a number of milliseconds');

function isReplacedObjectFile(file) {
  return typeof file === 'string' && file.endsWith('._S3rver_object') && fs.existsSync(file);
}

function report(file, err) {
  // Synchronous on a file, so the line is in the log even if the process exits right after.
  fs.writeSync(2, `slow disk: ${file}: ${err ? err.code || err.message : 'ok'}\n`);
}

const open = fs.open;
fs.open = function slowOpen(file, flags, ...rest) {
  if (!(/[wa]/.test(String(flags)) && isReplacedObjectFile(file))) return open.call(fs, file, flags, ...rest);
  const callback = rest.pop();
  setTimeout(
    () =>
      open.call(fs, file, flags, ...rest, (err, fd) => {
        report(file, err);
        callback(err, fd);
      }),
    SLOW_MS,
  );
  return undefined;
};

const writeFile = fs.promises.writeFile;
fs.promises.writeFile = async function slowWriteFile(file, ...rest) {
  if (!isReplacedObjectFile(file)) return writeFile.call(fs.promises, file, ...rest);
  await new Promise(resolve => setTimeout(resolve, SLOW_MS));
  try {
    await writeFile.call(fs.promises, file, ...rest);
  } catch (err) {
    report(file, err);
    throw err;
  }
  report(file, null);
  return undefined;
};
