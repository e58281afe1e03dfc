/**
 * A real SMTP server for tests (the smtp-server package) on a free loopback port; every message
 * it accepts is parsed with mailparser. `stop()` closes it (clients then get connection refused)
 * and `start()` listens again on the same port, for outage tests. `refuseNext(to, subject)` makes
 * the next message to `to` whose subject matches get a temporary refusal (451), once.
 * `connections()` tells how many SMTP connections were opened and how many were open at once at
 * most.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  url: string;
  mails: ParsedMail[];
  /** The mails received so far for `to`. */
  mailsTo(to: string): ParsedMail[];
  /** Resolves with the first mail (received or still to come) to `to` after `after` mails. */
  waitForMail(to: string, options?: { after?: number; timeoutMs?: number }): Promise<ParsedMail>;
  refuseNext(to: string, subject: RegExp): void;
  connections(): { opened: number; mostAtOnce: number };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestSmtp(): Promise<TestSmtp> {
  const mails: ParsedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;
  const refusals: Array<{ to: string; subject: RegExp }> = [];
  let open = 0;
  let opened = 0;
  let mostAtOnce = 0;

  const listen = async () => {
    server = new SMTPServer({
      // Plain SMTP on loopback: no STARTTLS offer (no certificate to trust), no authentication.
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      // stop() ends open connections at once (the default waits 30 s for clients to quit): the
      // mailer keeps its pooled connections open, as it should against a real server.
      closeTimeout: 50,
      onConnect(_session, callback) {
        opened++;
        mostAtOnce = Math.max(mostAtOnce, ++open);
        callback();
      },
      onClose() {
        open--;
      },
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            const refusal = refusals.findIndex((r) => addressed(mail, r.to) && r.subject.test(mail.subject ?? ''));
            if (refusal >= 0) {
              refusals.splice(refusal, 1);
              callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
              return;
            }
            mails.push(mail);
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.server.address() as AddressInfo).port;
  };
  await listen();

  const addressed = (mail: ParsedMail, to: string) => {
    const list = Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : [];
    return list.some((a) => a.value.some((v) => v.address?.toLowerCase() === to.toLowerCase()));
  };

  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    mailsTo: (to) => mails.filter((m) => addressed(m, to)),
    async waitForMail(to, { after = 0, timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = mails.filter((m) => addressed(m, to))[after];
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    refuseNext: (to, subject) => void refusals.push({ to, subject }),
    connections: () => ({ opened, mostAtOnce }),
    start: listen,
    async stop() {
      const current = server;
      server = undefined;
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
  };
}
