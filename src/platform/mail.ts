/**
 * Mail transport: SMTP through nodemailer when SMTP_URL is set (any SMTP server; on AWS, Amazon
 * SES's SMTP interface), otherwise the log. Sending is the worker's job (the identity module's mail
 * outbox); nothing here retries: a failed send throws, and the outbox tries again later.
 */
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from './config.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string | null | undefined;
}

export interface Mailer {
  readonly kind: 'smtp' | 'log';
  /** Resolves once the server accepted the message; throws when it did not. */
  send(message: MailMessage): Promise<{ messageId: string }>;
  close(): void;
}

/**
 * Bounded waits: a server that accepts the connection and then says nothing must not hold the
 * delivery job for nodemailer's default of minutes.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function createMailer(config: Config, logger: Logger): Mailer {
  const { smtpUrl, from } = config.mail;
  if (smtpUrl) {
    // Options in the URL's query (e.g. ?requireTLS=true) win over these defaults. Pooled: up to
    // MAIL_CONCURRENCY connections stay open and carry mail after mail, instead of a connection
    // (and its TLS handshake and login) per mail.
    const transport = nodemailer.createTransport({ url: smtpUrl, pool: true, maxConnections: config.mail.concurrency, ...TIMEOUTS });
    return {
      kind: 'smtp',
      async send(message) {
        const info = await transport.sendMail({ from, ...message, html: message.html ?? undefined });
        return { messageId: String(info.messageId) };
      },
      close: () => transport.close(),
    };
  }
  // Development only (production refuses to start without SMTP_URL). The body, with its link, is
  // logged in development, where the log is the developer's inbox; in tests only the fact of it.
  const showBody = config.nodeEnv === 'development';
  let sent = 0;
  return {
    kind: 'log',
    async send(message) {
      const messageId = `log-${++sent}`;
      logger.info({ mail: showBody ? message : { subject: message.subject }, message_id: messageId }, 'mail written to the log (no SMTP_URL)');
      return { messageId };
    },
    close: () => undefined,
  };
}
