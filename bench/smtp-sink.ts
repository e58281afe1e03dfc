/**
 * The benches' mail target (bench/lib.ts: startSmtpSink): an SMTP server on a free loopback port
 * that accepts every mail and keeps none, so the worker's mail job costs what a send costs here
 * (connect, EHLO, MAIL, RCPT, DATA, QUIT) instead of a refused connection and a retry. A child
 * process of its own, so its CPU is not the load driver's. Prints `{"port":N}` once listening and
 * `{"accepted":N}` when it gets SIGTERM. No network between: a real provider answers slower.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

let accepted = 0;
const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 10 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('end', () => {
      accepted++;
      callback();
    });
    stream.resume();
  },
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ accepted })}\n`);
  server.close(() => process.exit(0));
});
