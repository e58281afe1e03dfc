import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startTestSmtp } from '../../test/helpers/smtp.ts';
import { loadConfig } from './config.ts';
import { createMailer } from './mail.ts';

const message = { to: 'ada@example.com', subject: 'Reset your password', text: 'https://x.example/reset-password#token=SECRET' };

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

describe('mailer', () => {
  it('writes mails to the log without SMTP_URL: the whole mail in development, only its subject elsewhere', async () => {
    const dev = capture();
    const devMailer = createMailer(loadConfig({ NODE_ENV: 'development' }), dev.logger);
    expect(devMailer.kind).toBe('log');
    await devMailer.send(message);
    expect(dev.lines.join('')).toContain('#token=SECRET');

    const test = capture();
    await createMailer(loadConfig({ NODE_ENV: 'test' }), test.logger).send(message);
    expect(test.lines.join('')).toContain('Reset your password');
    expect(test.lines.join('')).not.toContain('SECRET');
    expect(test.lines.join('')).not.toContain('ada@example.com');
  });

  it('sends through SMTP_URL with a plain-text part and the configured sender, and throws when the server is down', async () => {
    const smtp = await startTestSmtp();
    const mailer = createMailer(loadConfig({ SMTP_URL: smtp.url, MAIL_FROM: 'Shop <shop@example.com>' }), pino({ level: 'silent' }));
    try {
      expect(mailer.kind).toBe('smtp');
      await mailer.send({ ...message, html: '<p>hello</p>' });
      const mail = await smtp.waitForMail('ada@example.com');
      expect(mail.text?.trim()).toBe(message.text);
      expect(mail.html).toContain('<p>hello</p>');
      expect(mail.from?.value[0]?.address).toBe('shop@example.com');
      await smtp.stop();
      await expect(mailer.send(message)).rejects.toThrow();
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });
});
